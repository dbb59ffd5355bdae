/** The step DSL as each executor validates it: the contract's schemas, shared with the API. */
export {
  DeclaredArtifact,
  DockerStep,
  HttpMethod,
  HttpStep,
  McpHttpServer,
  McpStdioServer,
  McpStep,
  NoopStep,
  ShellStep,
  StepEnv,
} from '@ocr/contracts';
