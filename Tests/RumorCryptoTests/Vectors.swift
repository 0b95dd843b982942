@testable import RumorCrypto
import RumorTestSupport

/// Captured from real Serf agents c (7948) and d (7949) encrypting with key.txt (T10/T11 in docs/interop.md#vectors,
/// the rest dumped from enc.pcap (docs/interop.md#captures) with the `cryptography` package).
enum Vectors {
    /// key.txt; hex 58024b6a498afe2715e42da912da419cb4c8e503679316fc9c1f92a356d22232.
    static let keyBase64 = "WAJLakmK/icV5C2pEtpBnLTI5QNnkxb8nB+So1bSIjI="
    /// key2.txt, installed during the capture but never primary.
    static let key2Base64 = "YII5tEVHIX+pEZ3Nacjb8DLr3GVQkpD5h9EvAL5m9Qs="

    static var key: SecretKey { try! SecretKey(base64: keyBase64) }
    static var key2: SecretKey { try! SecretKey(base64: key2Base64) }

    struct Sealed {
        let cipher: [UInt8]
        let plain: [UInt8]
    }

    /// T10: UDP ping d→c {Node:"c", SeqNo:1, SourceNode:"d", SourcePort:7949}, no AAD.
    static let t10 = Sealed(
        cipher: hex(
            "01b5d44369f215dce7133d3c00a53505f6a697bdce51d7a38672b7e65586592a6c0856c6155691bf505766d1761fa1dd6a",
            "c90410796ff7d251fcf574032e0a75ae42a228544d9e98e42b92311d734061723cd450ea479972"),
        plain: hex(
            "0085a44e6f6465a163a55365714e6f01aa536f7572636541646472a47f000001aa536f757263654e6f6465a164aa536f7572",
            "6365506f7274cd1f0d"))

    /// T11: TCP push-pull frame d→c; AAD = 0a000000f1. Plaintext is a 212-byte compress wrapper.
    static let t11 = Sealed(
        cipher: hex(
            "0a000000f1014a83901bc9bc38d7d08a86208653f1632e02aacb5fffc83e521572662edb570455da7b8ef20d6535e1e1666e",
            "26312a1572e14874c2234a02742b338bc78f38103ed3b171432d53761eb65bebadeeceed47053f8269a613c225d91c816b2b",
            "97343f05439ee09a41384a8cd99b49907967abbc8de7d65a78532e09a5de92f459f3773f9fc127bb4e389d2987a6291e0083",
            "526cd6da76fa9d03e7b372b895e6b529cc0c5f727d58aabab3d9953a9c370447f3ec53ab4fa4a4b6df0ab6391e8375700395",
            "910e48847439b1eb900d122aa4030954137f55f59ebe41632c51383518c61f348cd40e098ae360626e7bd4e8de32"),
        plain: hex(
            "0982a4416c676f00a3427566da00c5000d0c22a5e44d1a37c34a397943a6cc9c00acaacc2923670a9d3074ca3029e3a69980",
            "248748052143460ea93f0000045895c4cd983072dc604cf3c64d00524dca5c14f50f10292761da9409458614943772e834fb",
            "d0a094458c65008cb232c78da9000504082890d590aa227638d26142258dd000a6c08a9dc34d00006070e3ca9d4bb7aeddbb",
            "78f3eaddcbb7afdfbf80030b1e4cb8b0e1c388132b5eccb8b1df5264cd9659b9d10c9d9c6dc4509c034955943a14f3443ecb",
            "ea299d3a73463b0c44144040"))

    /// The push-pull reply c→d on the same connection.
    static let t11Reply = Sealed(
        cipher: hex(
            "0a000000f1018b91d593c989abe3335706c1e77c1d24987901218ef541da9623306ebf8c2c98be64416c56fcab12ef1893bf",
            "ab308f40d7c7b29f2fc441990f1a57e1fa3b63bba7cc022e08daacd1631667799b1ad813959de37ec4687fbff28de8f72309",
            "1ee5b7b1305dc7ddeaf7dfe6b639d4a741c6b0414d6a09f23c98a473ed82b2677903d73d0dfca8e4d8ed8f4d95fbc8392f8c",
            "0b3e0c2e21aab154ebc229b5464d8ae9b7d1327ce291955ed62199f2c2965c74b8ba754d77223d8df8308fff3c53a05ee61d",
            "bd1e5fd585b935716d58c7cf87931b04a8b0d73dfe912a67053cbd5abf0888b240f1d69e273e3d0fa66279f150ce"),
        plain: hex(
            "0982a4416c676f00a3427566da00c5000d0c22a5e44d1a37c34a397943a6cc9c00acaacc2923670a9d3074ca3029e3a69980",
            "248748052143460ea93f0000045895c4cd983072dc604cf3c64d00524dca5c14f50f10292761da9409358614943772e834fb",
            "c0a094458c65008cb232c78da9000504082890d590aa227638d26142258dd000a6c08a9dc34d00006070e3ca9d4bb7aeddbb",
            "78f3eaddcbb7afdfbf80030b1e4cb8b0e1c388132b5eccb8b1df5264cd9659b9d10c9d9c6dc4509c034955943a14f3443ecb",
            "ea299d3a73463b0c44144040"))

    /// UDP c→d, 51 bytes: CRC + Serf join intent for d. The smallest capture: used for the every-bit tamper test.
    static let joinIntent = Sealed(
        cipher: hex(
            "01ecb386222a763e78e966426ec745d830d2c2b4cebd5b475023b169405381e7d4096fae3b8d1dcb866bbff66921a045aa",
            "853d"),
        plain: hex("0cfaf9006f080182a54c54696d6501a44e6f6465a164"))

    /// UDP c→d, 73 bytes: CRC + user event "hello"/"world".
    static let userEvent = Sealed(
        cipher: hex(
            "01914d53d79d86720121311bdaf7c3208e602e4020e943ae757ae4dc5584353653e7907b377994a5f7373f38d8c923b120",
            "79a8718197a8518db4a99f8484545704cad4370f12690b5d"),
        plain: hex("0c0b63d38d080384a24343c3a54c54696d6501a44e616d65a568656c6c6fa75061796c6f6164a5776f726c64"))

    /// UDP c→d, 133 bytes: compound [ping d, user event] (no CRC).
    static let compound = Sealed(
        cipher: hex(
            "01366c29a4bca21ce6547a989eff177d52101af757598c38e0ab697e2cbaa66640a7db34c28a0c8ae0d2f7cfdcbf0202d62d",
            "aed534af47099970be17b7ec75f7fccefd81a218818c0ec1c965543e5f4281030478d65f0aa23fc088fd9824d4847d34a524",
            "fc42c95f8e541f3cd587ff15c3c0daefca868b5bb21def480b06ea0792a5f16754"),
        plain: hex(
            "0702003b00270085a44e6f6465a164a55365714e6f02aa536f7572636541646472a47f000001aa536f757263654e6f6465a1",
            "63aa536f75726365506f7274cd1f0c080384a24343c3a54c54696d6501a44e616d65a568656c6c6fa75061796c6f6164a577",
            "6f726c64"))

    /// UDP c→c, 202 bytes: query response carrying the T12 list-keys reply (Keys = [key.txt]).
    static let listKeysResponse = Sealed(
        cipher: hex(
            "01d93118f8e3964258851f66923790eb932cf597dd806235c9c2c7e6f33c1937f26ba36c4525934acdc14069dd5ac65b1a20",
            "e0ebf1e3897220f67268a7170760e249f67a7c8dc9f2c19144d45e71997309cc59ab2a9a4ac5770f24086e38efebd9bf2cc3",
            "953c7fec11c244263b3c2882d82ac689d89bf561b96fd9411272ffa5d1b28fc88ab0b6f158a58b0c98265732b3ea540ccfdd",
            "3dde4cdb75138ae2753838c4addda4a7048662bb01a7d5d052bae8f0cae5500eb7009fd2eadc8f9c5fc1be8807a896a771fd",
            "2197"),
        plain: hex(
            "080585a5466c61677300a446726f6da163a24944ce0f9e7ecea54c54696d6501a75061796c6f6164da00820884a44b657973",
            "91da002c57414a4c616b6d4b2f69635635433270457470426e4c544935514e6e6b7862386e422b536f316253496a493da74d",
            "657373616765a0aa5072696d6172794b6579da002c57414a4c616b6d4b2f69635635433270457470426e4c544935514e6e6b",
            "7862386e422b536f316253496a493da6526573756c74c3"))

    /// UDP d→c, 58 bytes: CRC + Serf leave intent for d.
    static let leaveIntent = Sealed(
        cipher: hex(
            "0161b4d419dffd4598afcf51e82e38392730be633fdce8ea8dca4973340e84116f56c50ce0851e70d64b636295a048ec0d",
            "80b5cd3520cc71814f"),
        plain: hex("0c380c0e9b080083a54c54696d6502a44e6f6465a164a55072756e65c2"))

    /// UDP d→c, 63 bytes: CRC + dead d (graceful leave).
    static let dead = Sealed(
        cipher: hex(
            "0127b7c95bebe49cd78db0bd638bc7a537aac7134fd6778b7e9b4a45bfdd414ef52f2cf63449b3dca994fbe737ac841b36",
            "88eee6c309efb733f74965495d42"),
        plain: hex("0cd7d995ad0583a446726f6da164ab496e6361726e6174696f6e01a44e6f6465a164"))

    static let udpPackets = [t10, joinIntent, userEvent, compound, listKeysResponse, leaveIntent, dead]
}
