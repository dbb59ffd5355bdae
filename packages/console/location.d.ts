/** Where the built console (index.html and hashed assets) lives; see location.js. */
export declare const CONSOLE_DIST: string;
