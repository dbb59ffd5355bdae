const NEEDS_ESCAPE = /["\\]/;
const ESCAPE = /["\\]/g;

/**
 * A Postgres array literal in text format (`{"a","b\"c",NULL}`), built element by element in the pass that
 * cleans an append's events. node-postgres turns a JS array into the same text, but through a second pass
 * that runs two regular-expression replaces on every element: at batches of 1,000 events that and the
 * eight intermediate arrays were an eighth of the API's busy time. Elements are always quoted; only `"` and
 * `\` are escaped (with a backslash), as the array input syntax requires.
 */
export class ArrayLiteral {
  #body = '';
  #empty = true;

  /** A text element (any string: `NULL`, braces, commas and spaces are safe inside the quotes), or NULL. */
  text(value: string | null): void {
    this.#add(
      value === null
        ? 'NULL'
        : NEEDS_ESCAPE.test(value)
          ? `"${value.replace(ESCAPE, '\\$&')}"`
          : `"${value}"`,
    );
  }

  /** A number element (the caller's numbers are integers). */
  number(value: number): void {
    this.#add(String(value));
  }

  #add(element: string): void {
    this.#body = this.#empty ? element : `${this.#body},${element}`;
    this.#empty = false;
  }

  /** The literal, for a parameter cast to an array type (`$1::text[]`). */
  toString(): string {
    return `{${this.#body}}`;
  }
}
