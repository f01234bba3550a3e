export {
  packPlugin,
  packageFileName,
  type PackedEntry,
  type PackOptions,
  type PackResult,
  type PackStep,
} from './pack.js';
