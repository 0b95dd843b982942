import RumorCrypto

/// `rumor keygen`: a new 32-byte key in base64, from libsodium's RNG (what `serf keygen` prints).
public struct KeygenCommand: Subcommand {
    public static let name = "keygen"
    public static let abstract = "Generate a new encryption key (base64, 32 bytes)."
    public static let options: [Option] = []

    public init(_ arguments: ParsedArguments) {}

    public func run() async throws {
        print(SecretKey.generate().base64)
    }
}
