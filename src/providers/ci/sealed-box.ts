// libsodium sealed boxes: how GitHub wants secret values encrypted before they are stored
// (crypto_box_seal with the repository's Curve25519 public key, base64 in and out).
import sodium from 'libsodium-wrappers';

/** Seals `value` for the holder of `publicKeyBase64` (standard base64); returns standard base64. */
export async function sealForGitHub(value: string, publicKeyBase64: string): Promise<string> {
  await sodium.ready;
  const key = sodium.from_base64(publicKeyBase64, sodium.base64_variants.ORIGINAL);
  const sealed = sodium.crypto_box_seal(sodium.from_string(value), key);
  return sodium.to_base64(sealed, sodium.base64_variants.ORIGINAL);
}
