// The component itself, not the package index: the index re-exports getTestRegistry, which imports
// @rjsf/validator-ajv8 (an Ajv that compiles with eval, forbidden by our CSP and not installed).
import Form from '@rjsf/core/lib/components/Form.js';
import type { RJSFSchema } from '@rjsf/utils';
import type { ReactNode } from 'react';
import { evalFreeValidator } from './eval-free-validator.js';

/** The `$schema` marker is dropped: the form validates as draft 2020-12, like the API. */
function formSchema(schema: Record<string, unknown>): RJSFSchema {
  const { $schema: _ignored, ...rest } = schema;
  void _ignored;
  return { type: 'object', ...rest } as RJSFSchema;
}

/** A run form generated from a template's params JSON Schema (react-jsonschema-form). */
export function ParamsForm(props: {
  idPrefix?: string;
  schema: Record<string, unknown>;
  value: Record<string, unknown>;
  onChange: (v: Record<string, unknown>) => void;
  onSubmit: (v: Record<string, unknown>) => void;
  children: ReactNode;
  disabled?: boolean;
  id?: string;
}) {
  return (
    <Form
      id={props.id}
      idPrefix={props.idPrefix}
      className="rjsf"
      schema={formSchema(props.schema)}
      validator={evalFreeValidator}
      formData={props.value}
      disabled={props.disabled}
      showErrorList="top"
      noHtml5Validate
      uiSchema={{ 'ui:submitButtonOptions': { norender: true } }}
      onChange={(e) => props.onChange((e.formData ?? {}) as Record<string, unknown>)}
      onSubmit={(e) => props.onSubmit((e.formData ?? {}) as Record<string, unknown>)}
    >
      {props.children}
    </Form>
  );
}
