import { stepResult, type StepExecutor } from './types.js';

/**
 * The `docker` executor of a worker that does not declare OCR_DOCKER_STEPS: the step fails at once with
 * `docker_not_enabled`, before any engine is contacted. Docker needs a privileged engine next to the worker;
 * only the docker worker group (docker-in-docker component, its own lanes) has one, so a template with a
 * docker step belongs on a lane only that group serves.
 */
export function dockerStepsRefused(lanes: readonly string[]): StepExecutor {
  const message =
    `docker steps run only on workers with OCR_DOCKER_STEPS=true (the docker worker group); this worker ` +
    `(lanes ${lanes.join(',')}) has none: put the template on a lane that group serves`;
  return {
    kind: 'docker',
    run: () => Promise.resolve(stepResult.failed('docker_not_enabled', message)),
  };
}
