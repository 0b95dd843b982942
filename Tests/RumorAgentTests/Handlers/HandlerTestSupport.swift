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

/// Collects log lines so tests can check what was logged, at which level.
final class HandlerLogCapture: Sendable {
    private let lines = NIOLockedValueBox<[(level: Logger.Level, message: String)]>([])

    var logger: Logger {
        Logger(label: "handlers-test") { _ in Sink(capture: self) }
    }

    var all: [(level: Logger.Level, message: String)] { lines.withLockedValue { $0 } }

    func contains(_ level: Logger.Level, _ fragment: String) -> Bool {
        all.contains { $0.level == level && $0.message.contains(fragment) }
    }

    func messages(_ level: Logger.Level) -> [String] { all.filter { $0.level == level }.map(\.message) }

    private struct Sink: LogHandler {
        let capture: HandlerLogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            capture.lines.withLockedValue { $0.append((event.level, "\(event.message)")) }
        }
    }
}

/// Thread-safe bag of values produced by callbacks.
final class HandlerBox<Value: Sendable>: Sendable {
    private let box: NIOLockedValueBox<Value>
    init(_ value: Value) { box = NIOLockedValueBox(value) }
    var value: Value { box.withLockedValue { $0 } }
    func mutate(_ body: @Sendable (inout Value) -> Void) { box.withLockedValue { body(&$0) } }
}

struct HandlerWaitTimedOut: Error, CustomStringConvertible {
    var description: String
}

/// Polls `condition` until it holds; fails the test after `timeout` (for effects with nothing to await).
func handlerWait(
    _ what: String, timeout: Duration = .seconds(10), _ condition: @Sendable () -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        guard ContinuousClock.now < deadline else {
            throw HandlerWaitTimedOut(description: "timed out waiting for \(what)")
        }
        try await Task.sleep(for: .milliseconds(5))
    }
}

/// A fresh temporary directory, removed by `cleanup()`.
struct HandlerTempDir {
    let path: String

    init() throws {
        var template = Array((NSTemporaryDirectory() + "/rumor-handlers-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw HandlerWaitTimedOut(description: "mkdtemp failed") }
        path = String(cString: made)
    }

    func file(_ name: String) -> String { path + "/" + name }

    func read(_ name: String) -> String? { try? String(contentsOfFile: file(name), encoding: .utf8) }

    func bytes(_ name: String) -> [UInt8]? { FileManager.default.contents(atPath: file(name)).map { [UInt8]($0) } }

    func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: file(name)) }

    /// Writes an executable script.
    @discardableResult
    func script(_ name: String, _ body: String) throws -> String {
        // Written through a close-on-exec fd: a child forked meanwhile by a parallel test must not hold it open, or
        // exec'ing the script fails with ETXTBSY ("Text file busy", exit 126).
        let p = file(name)
        let fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o755)
        guard fd >= 0 else { throw HandlerWaitTimedOut(description: "cannot create \(p)") }
        let bytes = Array(("#!/bin/sh\n" + body + "\n").utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        guard written == bytes.count else { throw HandlerWaitTimedOut(description: "cannot write \(p)") }
        return p
    }

    func cleanup() { try? FileManager.default.removeItem(atPath: path) }
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
    _ specs: [String], settings: HandlerSettings = handlerTestSettings(), log: HandlerLogCapture = HandlerLogCapture(),
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
    timeout: Duration = .seconds(30), slow: Duration = .seconds(1), log: HandlerLogCapture = HandlerLogCapture()
) async throws -> ScriptResult {
    let runner = ScriptRunner(logger: log.logger)
    let result = HandlerBox<ScriptResult?>(nil)
    let job = ScriptJob(
        invocation: ScriptInvocation(script: script, event: event, selfMember: selfMember), timeout: timeout,
        slowThreshold: slow
    ) { r in result.mutate { $0 = r } }
    runner.enqueue(job, lane: "test")
    try await handlerWait("the script to finish", timeout: timeout + .seconds(10)) { result.value != nil }
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
