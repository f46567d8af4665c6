/** The address check lives with the recipient's rules (src/recipients/address.ts), below env's sender parsing. */
export { type AddressCheck, checkEmailAddress, normalizeAddress } from "../recipients/address";
