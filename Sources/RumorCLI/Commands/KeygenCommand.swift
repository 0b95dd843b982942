import ArgumentParser
import RumorCrypto

/// `rumor keygen`: a new 32-byte key in base64, from libsodium's RNG (what `serf keygen` prints).
public struct KeygenCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "keygen", abstract: "Generate a new encryption key (base64, 32 bytes).")

    public init() {}

    public func run() throws {
        print(SecretKey.generate().base64)
    }
}
