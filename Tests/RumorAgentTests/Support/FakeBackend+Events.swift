import NIOCore
import RumorAgent
import RumorCore

/// FakeBackend predates the event, query, tags and key commands; it refuses them. Tests of those commands use
/// `EventFakeBackend` (RPCEventHarness.swift).
extension FakeBackend {
    struct Unsupported: Error, CustomStringConvertible {
        var description: String { "not supported by FakeBackend" }
    }

    func userEvent(name: String, payload: [UInt8], coalesce: Bool) -> EventLoopFuture<Void> {
        eventLoop.makeFailedFuture(Unsupported())
    }

    func startQuery(_ q: OutgoingQuery, observer: QueryObserver) -> EventLoopFuture<Void> {
        eventLoop.makeFailedFuture(Unsupported())
    }

    func respond(ltime: UInt64, id: UInt32, payload: [UInt8]) -> EventLoopFuture<Void> {
        eventLoop.makeFailedFuture(Unsupported())
    }

    func updateTags(set: [String: String], delete: [String]) -> EventLoopFuture<Void> {
        eventLoop.makeFailedFuture(Unsupported())
    }

    func addListener(token listener: @escaping (Event) -> Void) -> Int { 0 }

    func removeListener(_ token: Int) {}

    func keyOperation(_ op: KeyOperation, key: String?) -> EventLoopFuture<KeyOperationResult> {
        eventLoop.makeFailedFuture(Unsupported())
    }
}
