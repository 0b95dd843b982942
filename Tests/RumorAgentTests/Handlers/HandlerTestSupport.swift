import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RumorAgent
import RumorCore
import RumorWire
import Testing
import RumorTestSupport

/// Thread-safe bag of values produced by callbacks.
final class HandlerBox<Value: Sendable>: Sendable {
    private let box: NIOLockedValueBox<Value>
    init(_ value: Value) { box = NIOLockedValueBox(value) }
    var value: Value { box.withLockedValue { $0 } }
    func mutate(_ body: @Sendable (inout Value) -> Void) { box.withLockedValue { body(&$0) } }
}

func handlerMember(_ name: String, _ ip: String = "10.0.0.1", tags: [String: String] = [:]) -> Member {
    Member(name: name, address: Address(host: ip, port: 7946)!, tags: tags, status: .alive, vsn: [])
}

func handlerUserEvent(_ name: String, _ payload: String, ltime: UInt64 = 1, coalesce: Bool = false) -> UserEvent {
    UserEvent(ltime: ltime, name: name, payload: Array(payload.utf8), coalesce: coalesce)
}

/// Settings for tests: no coalescing unless asked, quick slow-warning.
func handlerTestSettings(
    timeout: Duration = .seconds(60), coalesce: CoalescePeriods = .disabled, maxConcurrent: Int = 16
) -> HandlerSettings {
    HandlerSettings(memberCoalesce: coalesce, userCoalesce: coalesce, timeout: timeout, maxConcurrent: maxConcurrent)
}

/// One event loop for a test, shut down by `withHandlers`.
func withHandlers(
    _ specs: [String], settings: HandlerSettings = handlerTestSettings(), log: LogCapture = LogCapture(),
    respond: @escaping @Sendable (UInt64, UInt32, [UInt8]) -> Void = { _, _, _ in },
    _ body: (EventHandlers, any EventLoop) async throws -> Void
) async throws {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let loop = group.next()
    let handlers = EventHandlers(
        specs: try specs.map(HandlerSpec.parse), settings: settings, eventLoop: loop, logger: log.logger,
        respond: respond)
    do {
        try await body(handlers, loop)
    } catch {
        try await handlers.shutdown().get()
        try await group.shutdownGracefully()
        throw error
    }
    try await handlers.shutdown().get()
    try await group.shutdownGracefully()
}

/// Runs one job on a private runner and waits for its result.
func handlerRun(
    _ script: String, event: HandlerEvent = .user(handlerUserEvent("test", "")),
    selfMember: Member = handlerMember("node1"),
    timeout: Duration = .seconds(30), slow: Duration = .seconds(1), log: LogCapture = LogCapture()
) async throws -> ScriptResult {
    let runner = ScriptRunner(logger: log.logger)
    let result = HandlerBox<ScriptResult?>(nil)
    let job = ScriptJob(
        invocation: ScriptInvocation(script: script, event: event, selfMember: selfMember), timeout: timeout,
        slowThreshold: slow
    ) { r in result.mutate { $0 = r } }
    runner.enqueue(job, lane: "test")
    try await eventually("the script to finish", timeout: timeout + .seconds(10)) { result.value != nil }
    await runner.shutdown()
    return result.value!
}

extension ScriptResult {
    var text: String { String(decoding: output, as: UTF8.self) }
}

/// Whether `pid` is gone (or a zombie nobody has reaped yet: dead all the same).
func processIsDead(_ pid: Int32) -> Bool {
    if kill(pid, 0) != 0 { return errno == ESRCH }
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return true }
    return stat[stat.index(close, offsetBy: 2)] == "Z"
}
