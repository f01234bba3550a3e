export { checkGreeterFree, checkTarget } from './checks.js';
export { ERROR_CODES, NekoTemplatesError, isNekoTemplatesError, type TemplatesErrorCode } from './errors.js';
export {
  addCiWorkflow,
  addOp,
  addPlugin,
  createPlop,
  generatePlugin,
  type AddCiWorkflowOptions,
  type AddOpOptions,
  type AddOpResult,
  type AddPluginOptions,
  type GeneratePluginOptions,
  type GenerateResult,
  type PlopOptions,
} from './generate.js';
export {
  RESERVED_GREETERS,
  checkPluginAnswers,
  pluginDefaults,
  toSlug,
  validateDescription,
  validateGreeter,
  validatePackageName,
  validatePluginName,
  type PluginAnswers,
} from './names.js';
export { nextFreeOp, readOps, toOpName, validateOpCode, validateOpName, type OpEntry } from './ops.js';
export {
  CI_WORKFLOW_FILE,
  PLUGIN_FOLDER_FILES,
  PROJECT_FILES,
  TEMPLATES_DIR,
  default as plopfile,
  type AddOpGeneratorAnswers,
  type AddPluginGeneratorAnswers,
  type CiGeneratorAnswers,
  type PluginGeneratorAnswers,
} from './plopfile.js';
export { dependencyVersions, type DependencyVersions } from './versions.js';
