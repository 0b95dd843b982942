import NIOCore
import RumorCore
import RumorCrypto
import RumorWire

/// Serf's cluster-wide key rotation: `_serf_install-key`, `_serf_use-key`, `_serf_remove-key` and
/// `_serf_list-keys` queries (docs/membership.md#internal-queries), both answering them and running them.
public enum KeyOperation: String, Sendable, CaseIterable {
    case install = "install-key"
    case use = "use-key"
    case remove = "remove-key"
    case list = "list-keys"

    init?(queryName: String) {
        guard queryName.hasPrefix("_serf_") else { return nil }
        self.init(rawValue: String(queryName.dropFirst("_serf_".count)))
    }

    var queryName: String { "_serf_" + rawValue }
}

/// What a key operation achieved across the cluster (the RPC `install-key` … `list-keys` response).
public struct KeyOperationResult: Sendable {
    public var numNodes = 0
    public var numResp = 0
    public var numErr = 0
    /// Node name → error message, for nodes that failed.
    public var messages: [String: String] = [:]
    /// Base64 key → how many nodes hold it (list only).
    public var keys: [String: Int] = [:]

    /// Serf's summary errors: "%d/%d nodes reported failure", or success from fewer nodes than are alive.
    public var error: String? {
        if numErr > 0 { return "\(numErr)/\(numNodes) nodes reported failure" }
        if numResp != numNodes { return "\(numResp)/\(numNodes) nodes reported success" }
        return nil
    }
}

enum KeyQueries {
    static let responseLimit = 1024

    /// Answers one key query against our keyring.
    static func answer(_ op: KeyOperation, payload: [UInt8], security: MemberlistSecurity?) -> [UInt8] {
        guard let security else {
            let message = op == .list ? "Keyring is empty (encryption not enabled)" : "No keyring to modify (encryption not enabled)"
            return SerfCodec.encodeKeyResponse(KeyResponse(result: false, message: message, keys: nil, primaryKey: ""))
        }
        do {
            if op == .list { return listResponse(security.keyring) }
            let request = try SerfCodec.decodeKeyRequest(payload)
            let key = try SecretKey(bytes: request.key)
            switch op {
            case .install: _ = try security.install(key)
            case .use: try security.use(key)
            case .remove: _ = try security.remove(key)
            case .list: break
            }
            return SerfCodec.encodeKeyResponse(KeyResponse(result: true, message: "", keys: nil, primaryKey: ""))
        } catch {
            return SerfCodec.encodeKeyResponse(KeyResponse(result: false, message: "\(error)", keys: nil, primaryKey: ""))
        }
    }

    /// Lists our keys, truncated so the response fits Serf's 1024-byte limit, as Serf does.
    static func listResponse(_ ring: Keyring) -> [UInt8] {
        let all = ring.keys.map(\.base64)
        var count = all.count
        while true {
            let message = count < all.count ? "truncated key list response, showing first \(count) of \(all.count) keys" : ""
            let encoded = SerfCodec.encodeKeyResponse(
                KeyResponse(result: true, message: message, keys: Array(all.prefix(count)), primaryKey: ring.primary.base64))
            // Room for the query response envelope around the payload.
            if encoded.count + 200 <= responseLimit || count == 0 { return encoded }
            count -= 1
        }
    }
}

extension Agent {
    /// Runs a key operation across the cluster and summarises the answers, as `serf keys` expects.
    public func keyOperation(_ op: KeyOperation, key: String?) -> EventLoopFuture<KeyOperationResult> {
        var payload = SerfCodec.encodeKeyRequest(KeyRequest(key: []))
        if op != .list {
            do {
                guard let key else { throw CommandError("a key is required") }
                payload = SerfCodec.encodeKeyRequest(KeyRequest(key: try SecretKey(base64: key).bytes))
            } catch {
                return eventLoop.makeFailedFuture(error)
            }
        }
        let promise = eventLoop.makePromise(of: KeyOperationResult.self)
        let alive = members().filter { $0.status == .alive }.count
        let box = NIOLoopBoundBox(KeyOperationResult(numNodes: alive), eventLoop: eventLoop)
        let observer = QueryObserver(
            onResponse: { from, bytes in
                var r = box.value
                r.numResp += 1
                if let resp = try? SerfCodec.decodeKeyResponse(bytes) {
                    if !resp.result {
                        r.numErr += 1
                        r.messages[from] = resp.message
                    }
                    for k in resp.keys ?? [] { r.keys[k, default: 0] += 1 }
                } else {
                    r.numErr += 1
                    r.messages[from] = "unreadable key response"
                }
                box.value = r
                if r.numResp >= r.numNodes { promise.succeed(r) }
            },
            onDone: { promise.succeed(box.value) })
        query(OutgoingQuery(name: op.queryName, payload: payload), observer: observer)
        return promise.futureResult
    }
}
