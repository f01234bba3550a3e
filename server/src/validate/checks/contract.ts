import type { ContractTypes } from '../contract.js';
import type { Finding } from '../problem.js';

/**
 * The `nekoconnect` package the plugin sees exports the types `recv` and
 * the hooks are checked against (`Context`, `PluginContext`,
 * `SessionContext`): `NEKO_ERR_VALIDATE_CONTRACT` otherwise, and the checks
 * that need the missing types are skipped.
 */
export function checkContract(contract: ContractTypes): Finding[] {
  if (contract.missing.length === 0) return [];
  const where =
    contract.declarations === undefined ? 'the nekoconnect package the plugin sees' : contract.declarations;
  return [
    {
      code: 'NEKO_ERR_VALIDATE_CONTRACT',
      message: `${where} does not export ${contract.missing.join(', ')}, so recv and the hooks cannot be checked against it`,
      hint: 'install a current nekoconnect where the plugin can import it (npm install nekoconnect), or build it (npm run build) in the NekoConnect repository',
    },
  ];
}
