export { createValidator, validatePlugins, type Validator } from './validator.js';
export {
  formatReport,
  toJsonReport,
  JSON_REPORT_VERSION,
  type FormatReportOptions,
  type JsonPlugin,
  type JsonProblem,
  type JsonReport,
} from './report.js';
export {
  escapeData,
  escapeProperty,
  formatGithubReport,
  githubAnnotation,
  githubPath,
  type GithubReportOptions,
} from './github.js';
export {
  extractOps,
  opsOfSourceFile,
  MAX_OP,
  type ExtractedOps,
  type ExtractOpsOptions,
  type OpsSource,
  type PluginOp,
} from './ops.js';
export { validatePackage, PACKAGE_TYPES_NOTE } from './package.js';
export { validateTarget } from './directory.js';
export type { PluginResult, Position, Problem, Severity, ValidationReport } from './problem.js';
