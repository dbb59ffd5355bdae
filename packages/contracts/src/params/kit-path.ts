/**
 * A Spec Kit `path` source (`spec-kit.validate` input): the directory a worker reads a kit from. The worker
 * confines it to the run directory (relative paths) or to the operator's `OCR_SPEC_KIT_ROOT` (absolute
 * paths), symlinks followed. What can be judged without the worker's file system is judged here, so a
 * template or a run that asks for a path outside is refused with a 400 before anything runs: a `..`
 * segment, a NUL byte, or a backslash (a Windows-style separator that could hide a `..`).
 */

/** Why this path can never be a kit directory, or undefined when only the worker can tell. */
export function kitPathProblem(path: string): string | undefined {
  if (path.includes('\0')) return 'must not contain a NUL byte';
  if (path.includes('\\')) return 'must not contain a backslash (use / between directories)';
  if (path.split('/').includes('..'))
    return 'must not contain a ".." segment (a kit path stays inside the run directory or the worker\'s OCR_SPEC_KIT_ROOT)';
  return undefined;
}
