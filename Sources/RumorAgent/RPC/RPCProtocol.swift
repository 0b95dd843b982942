/// Names and fixed strings of Serf's agent RPC (docs/agent.md#rpc). Clients match error strings exactly, so they live
/// here once and both the server and the CLI use them.
public enum RPCProtocol {
    /// The only IPC version that exists.
    public static let ipcVersion: Int64 = 1

    /// Command names, as sent in `requestHeader.Command`.
    public enum Command {
        public static let handshake = "handshake"
        public static let auth = "auth"
        public static let members = "members"
        public static let membersFiltered = "members-filtered"
        public static let join = "join"
        public static let leave = "leave"
        public static let forceLeave = "force-leave"
        public static let event = "event"
        public static let tags = "tags"
        public static let query = "query"
        public static let respond = "respond"
        public static let stream = "stream"
        public static let monitor = "monitor"
        public static let stop = "stop"
        public static let installKey = "install-key"
        public static let useKey = "use-key"
        public static let removeKey = "remove-key"
        public static let listKeys = "list-keys"
        public static let stats = "stats"
        public static let getCoordinate = "get-coordinate"
        /// Rumor's own: the container action's apps on this node (`rumor apps`). serf has no such command.
        public static let apps = "apps"
    }

    /// Error strings the agent puts in `responseHeader.Error` (docs/agent.md#rpc-errors).
    public enum ErrorText {
        public static let unsupportedCommand = "Unsupported command"
        public static let unsupportedIPCVersion = "Unsupported IPC version"
        public static let duplicateHandshake = "Handshake already performed"
        public static let handshakeRequired = "Handshake required"
        public static let monitorExists = "Monitor already exists"
        public static let invalidFilter = "Invalid event filter"
        public static let streamExists = "Stream with given sequence exists"
        public static let invalidQueryID = "No pending queries matching ID"
        public static let authRequired = "Authentication required"
        public static let invalidAuthToken = "Invalid authentication token"
    }

    /// `queryRecord.Type` values streamed after a `query` (docs/agent.md#rpc-streams).
    public enum QueryRecordType {
        public static let ack = "ack"
        public static let response = "response"
        public static let done = "done"
    }

    public static let defaultAddress = "127.0.0.1:7373"
}
