import RumorAgent
import RumorWire

/// `version`: this build's version and the Serf protocol range it speaks.
public struct VersionCommand: Subcommand {
    public static let name = "version"
    public static let abstract = "Print the Rumor version and protocol versions."
    public static let options: [Option] = []

    public init(_ arguments: ParsedArguments) {}

    public func run() async throws {
        print(Self.text)
    }

    /// Delegate (Serf) protocol max and min from the version vector we advertise: "5 (Understands back to: 2)".
    public static var text: String {
        let (min, max) = (defaultVersionVector[3], defaultVersionVector[4])
        return "\(RumorVersion.text)\nAgent Protocol: \(max) (Understands back to: \(min))"
    }
}
