/// A command-line flag a built-in action declares for itself (`--haproxy-config`): `rumor agent` lists it in its help
/// and the README's option table, keeps its values for the action, and never reads them; the action turns them into
/// its configuration (`HAProxyActionConfiguration.configured`). An action's config-file settings live under its own
/// key in `"actions"`, so neither needs a field in the agent's configuration.
public struct ActionFlag: Sendable {
    public var name: String
    public var valueName: String
    public var help: String
    public var repeatable: Bool

    public init(_ name: String, value: String, repeatable: Bool = false, _ help: String) {
        self.name = name
        self.valueName = value
        self.help = help
        self.repeatable = repeatable
    }
}
