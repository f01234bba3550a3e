export {
  AUTH_GREETER,
  AUTH_PACKET,
  DEFAULT_HOST,
  DEFAULT_PORT,
  HEADER_LENGTH,
  MAX_UINT32,
  RESERVED_GREETERS,
  SERVER_GREETER,
  UNAUTHENTICATED_HASH,
} from './constants.js';
export { isAuthFrame } from './auth.js';
export {
  ClientChain,
  fitsReply,
  replyRule,
  type ChainArrival,
  type ChainPacket,
  type ChainWrite,
  type ReplyRule,
} from './client-chain.js';
export { FrameDecoder, decodeFrame } from './decoder.js';
export { encodeFrame } from './encoder.js';
export type { Frame, FrameFields } from './frame.js';
export { HASH_LENGTH, Hasher, hashEquals } from './hash.js';
export { NonceWindow } from './nonce-window.js';
export { RANDOM_LENGTH, randomString } from './random.js';
export { STATUS_TEXT, Status, isClosingStatus, type StatusCode } from './status.js';
export { statusOf } from './packet.js';
export {
  MAX_TOKEN_ID_LENGTH,
  TOKEN_AUTH_OP,
  issueToken,
  parseTokenId,
  tokenKey,
  type TokenId,
  type UserToken,
} from './token.js';
export {
  RESUME_OP,
  RESUME_TOKEN_OP,
  ResumeOutcome,
  isExtensionAnswer,
  isExtensionRequest,
  parseResumeAnswer,
  resumeAnswerData,
  type ResumeAnswer,
} from './resume.js';
