/**
 * A param that cannot be rendered into a step: missing, holding a NUL, unsafe where it is placed, or two
 * params sharing one variable. The worker fails the step with `code`; the API's preview answers 400.
 */
export class ParamError extends Error {
  constructor(
    readonly code: 'param_missing' | 'param_invalid' | 'param_name_collision' | 'unsafe_placeholder',
    message: string,
  ) {
    super(message);
    this.name = 'ParamError';
  }
}
