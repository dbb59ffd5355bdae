// The process spawner and `eventually` live in @ocr/testkit; import them from there. This re-export keeps
// tests written against the old path compiling.
export { eventually, spawnOcr, type LoggedProcess as OcrProcess } from '@ocr/testkit';
