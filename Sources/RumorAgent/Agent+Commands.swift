import NIOCore
import RumorCore
import RumorRuntime
import RumorWire

/// The agent's side of Serf's RPC commands beyond membership: user events, queries and responses, tags, and event
/// subscriptions. Every method runs on the agent's event loop; errors carry Serf's wording.
extension Agent {
    /// Sends a user event; fails (nothing sent) if it is too large, as `serf event` does.
    public func userEvent(name: String, payload: [UInt8], coalesce: Bool) -> EventLoopFuture<Void> {
        eventLoop.submit { [self] in
            if let error = runtime.withInstance({ $0.userEventError(name: name, payload: payload) }) {
                throw CommandError(error)
            }
            runtime.submit(.userEvent(name: name, payload: payload, coalesce: coalesce))
        }
    }

    /// Starts a query after checking it as serf does (reserved names, size). `observer` hears acks, responses and
    /// the end; the future fails only when the query was refused.
    public func startQuery(_ q: OutgoingQuery, observer: QueryObserver) -> EventLoopFuture<Void> {
        eventLoop.submit { [self] in
            if q.name.hasPrefix("_serf_") && !(q.name == "_serf_ping" && q.payload.isEmpty) {
                throw CommandError("Queries cannot contain the '_serf_' prefix")
            }
            for (tag, expr) in q.filterTags {
                do { _ = try Regex(expr) } catch {
                    throw CommandError("invalid regular expression '\(expr)' for tag filter '\(tag)': \(error)")
                }
            }
            if let error = runtime.withInstance({ $0.queryError(q) }) { throw CommandError(error) }
            query(q, observer: observer)
        }
    }

    /// Answers a query this agent received (identified by its Lamport time and id).
    public func respond(ltime: UInt64, id: UInt32, payload: [UInt8]) -> EventLoopFuture<Void> {
        eventLoop.submit { [self] in
            if let error = runtime.withInstance({ $0.respondError(ltime: ltime, id: id, payload: payload) }) {
                throw CommandError(error)
            }
            runtime.submit(.respond(ltime: ltime, id: id, payload: payload))
        }
    }

    /// `serf tags`: the new tags are the current ones minus `delete`, plus `set`. Gossiped as a new alive
    /// message (member-update everywhere) and written to the tags file, if one is configured.
    public func updateTags(set: [String: String], delete: [String]) -> EventLoopFuture<Void> {
        eventLoop.submit { [self] in
            var tags = runtime.withInstance { $0.tags }
            for key in delete { tags[key] = nil }
            tags.merge(set) { $1 }
            let encoded = SerfCodec.encodeTags(tags).count
            guard encoded <= 512 else {
                throw CommandError("Encoded length of tags exceeds limit of 512 bytes (\(encoded) bytes)")
            }
            if let path = configuration.tagsFile { try TagsFile.save(tags, to: path) }
            runtime.submit(.setTags(tags))
        }
    }

    /// Subscribes to every event (RPC `stream`); returns a token for ``removeListener(_:)``.
    public func addListener(token listener: @escaping (Event) -> Void) -> Int {
        eventLoop.preconditionInEventLoop()
        nextListener += 1
        tokenListeners[nextListener] = listener
        return nextListener
    }

    public func removeListener(_ token: Int) {
        eventLoop.preconditionInEventLoop()
        tokenListeners[token] = nil
    }

    /// The local member as others see it.
    public var localMember: Member { runtime.withInstance { $0.localMember } }
}
