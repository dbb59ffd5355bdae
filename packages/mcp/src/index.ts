export { createMcpServer, type McpServerOptions } from './server.js';
export { READ_TOOLS, WRITE_TOOLS, type ToolSpec } from './tools.js';
export { serveStdio, handleHttp } from './transports.js';
