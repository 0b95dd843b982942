// libsodium is the only crypto dependency: RumorCrypto uses crypto_aead_aes256gcm_* and randombytes_buf.
#include <sodium.h>
