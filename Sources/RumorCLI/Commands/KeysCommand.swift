import RumorAgent

/// `keys`: cluster-wide keyring changes and listing, with `serf keys`' output ("==> " progress lines, per-node
/// failures, and a summary error when any node failed or did not answer).
public struct KeysCommand: Subcommand {
    public static let name = "keys"
    public static let abstract = "Manage the gossip encryption keyring of the whole cluster."
    public static let discussion = """
        Exactly one of --install, --use, --remove or --list. Exits 0 only if every node answered without error. \
        To rotate: install the new key, use it, then remove the old one.
        """
    public static let options = RPCOptions.options + [
        .value("install", "key", "Install a key on every member (for decryption only, until used)."),
        .value("use", "key", "Make an installed key the primary (encrypting) key everywhere."),
        .value("remove", "key", "Remove a key from every member (not the primary key)."),
        .flag("list", "List the keys installed in the cluster and how many members hold each."),
    ]

    var rpc: RPCOptions
    var install: String?
    var use: String?
    var remove: String?
    var list: Bool

    public init(_ arguments: ParsedArguments) {
        rpc = RPCOptions(arguments)
        install = arguments.value("install")
        use = arguments.value("use")
        remove = arguments.value("remove")
        list = arguments.flag("list")
    }

    public func run() async throws {
        // serf counts a flag given as an empty string as absent.
        let actions = [install, use, remove].compactMap { $0 }.filter { !$0.isEmpty }.count + (list ? 1 : 0)
        guard actions == 1 else {
            if actions > 1 { throw usageError("Only one of -install, -use, -remove, or -list allowed") }
            Console.error(Self.helpMessage())
            throw ExitCode.failure
        }
        let client = try rpc.connect()
        defer { client.close() }

        if list {
            Console.line("==> Asking all members for installed keys...")
            let failure = "Failed to gather member keys"
            let (response, error) = try call(client, RPCProtocol.Command.listKeys, key: nil, failure: failure)
            if !error.isEmpty { throw Self.failed(response, failure, error) }
            Console.line("==> Keys gathered, listing cluster keys...")
            Console.line("")
            let keys = response.keys ?? [:]
            let lines = keys.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
                .map { "\($0) | [\(keys[$0]!)/\(response.numNodes)]" }
            Console.line(Columns.format(lines))
            return
        }

        let (command, key, progress, done, failure): (String, String, String, String, String)
        if let install, !install.isEmpty {
            (command, key) = (RPCProtocol.Command.installKey, install)
            (progress, done, failure) = (
                "Installing key on all members...", "Successfully installed key!", "Error installing key")
        } else if let use, !use.isEmpty {
            (command, key) = (RPCProtocol.Command.useKey, use)
            (progress, done, failure) = (
                "Changing primary key on all members...", "Successfully changed primary key!",
                "Error changing primary key")
        } else {
            (command, key) = (RPCProtocol.Command.removeKey, remove ?? "")
            (progress, done, failure) = (
                "Removing key on all members...", "Successfully removed key!", "Error removing key")
        }
        Console.line("==> " + progress)
        let (response, error) = try call(client, command, key: key, failure: failure)
        if !error.isEmpty { throw Self.failed(response, failure, error) }
        Console.line("==> " + done)
    }

    private func call(
        _ client: RPCClient, _ command: String, key: String?, failure: String
    ) throws -> (RPCKeyResponse, String) {
        do { return try client.keyCommand(command, key: key) } catch { throw Console.fail(failure, error) }
    }

    /// serf's failure report: one `failed: | node | message` row per node that reported one, a blank line, and
    /// the summary.
    static func failed(_ response: RPCKeyResponse, _ context: String, _ error: String) -> ExitCode {
        if !response.messages.isEmpty {
            let nodes = response.messages.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            Console.error(Columns.format(nodes.map { "failed: | \($0) | \(response.messages[$0]!)" }))
        }
        Console.error("")
        Console.error("\(context): \(error)")
        return ExitCode.failure
    }
}
