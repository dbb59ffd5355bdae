/**
 * A param that cannot be rendered into a step: missing, holding a NUL, unsafe where it is placed, two
 * params sharing one variable, or a secret the worker does not have. The worker fails the step with
 * `code`; the API's preview answers 400.
 */
export class ParamError extends Error {
  constructor(
    readonly code:
      'param_missing' | 'param_invalid' | 'param_name_collision' | 'unsafe_placeholder' | 'secret_missing',
    message: string,
  ) {
    super(message);
    this.name = 'ParamError';
  }
}
