import Foundation
import Logging
import NIOCore
import NIOPosix
import RumorAgent
@testable import RumorCore
import RumorTestSupport
import Testing

/// ``EventHandlers`` end to end: core events in, scripts run, replies out.
@Suite("Handler manager", .timeLimit(.minutes(2)))
struct HandlerManagerTests {
    let me = handlerMember("node1", "10.0.0.9", tags: ["role": "lb"])

    func query(_ name: String, ltime: UInt64 = 5, id: UInt32 = 77, payload: String = "") -> Event {
        .query(IncomingQuery(
            ltime: ltime, id: id, name: name, payload: Array(payload.utf8), deadline: Instant(nanoseconds: 0), timeout: .seconds(3),
            source: "node2"))
    }

    @Test func aHungAndAFailingHandlerDoNotDelayAnother() async throws {
        let dir = try TemporaryDirectory("handlers")
        defer { dir.remove() }
        let log = LogCapture()
        let good = "user=cat >> '\(dir.file("good"))'"
        try await withHandlers(["user=sleep 1000", "user=echo boom; exit 1", good], log: log) { handlers, _ in
            handlers.handle(.userEvent(handlerUserEvent("deploy", "one")), selfMember: me)
            // The hung handler never finishes, so the good one completing at all proves it was not blocked; the
            // deadline is generous because CI runs this beside CPU-heavy suites.
            try await eventually("the good handler's first event", timeout: .seconds(10)) {
                dir.read("good") == "one\n"
            }
            try await eventually("the failure to be logged", timeout: .seconds(5)) {
                log.contains(
                    .error, "agent: Error invoking script 'echo boom; exit 1': exit status 1; output tail: boom\\n")
            }
            // The hung handler is still running (its second event waits behind it), and the good one keeps going.
            handlers.handle(.userEvent(handlerUserEvent("deploy", "two", ltime: 2)), selfMember: me)
            try await eventually("the good handler's second event", timeout: .seconds(10)) {
                dir.read("good") == "one\ntwo\n"
            }
            #expect(handlers.load.running >= 1)
            #expect(handlers.load.queued >= 1)
        }
    }

    @Test func eachHandlerGetsItsEventsInOrder() async throws {
        let dir = try TemporaryDirectory("handlers")
        defer { dir.remove() }
        // Random small delays in one handler make the two handlers interleave; each must still see 0...49 in order.
        let specs = [
            "user=read -r n; echo \"$n\" >> '\(dir.file("plain"))'",
            "user=read -r n; sleep 0.0$((n % 3)); echo \"$n\" >> '\(dir.file("jittery"))'",
        ]
        try await withHandlers(specs) { handlers, _ in
            for i in 0..<50 {
                handlers.handle(.userEvent(handlerUserEvent("seq", "\(i)", ltime: UInt64(i + 1))), selfMember: me)
            }
            let expected = (0..<50).map { "\($0)\n" }.joined()
            try await eventually("50 events in both handlers", timeout: .seconds(60)) {
                dir.read("plain")?.count == expected.count && dir.read("jittery")?.count == expected.count
            }
            #expect(dir.read("plain") == expected)
            #expect(dir.read("jittery") == expected)
        }
    }

    @Test func aQueryIsAnsweredWithTheScriptsOutputOnTheEventLoop() async throws {
        let replies = HandlerBox<[(UInt64, UInt32, String, Bool)]>([])
        let loopBox = HandlerBox<(any EventLoop)?>(nil)
        let respond: @Sendable (UInt64, UInt32, [UInt8]) -> Void = { ltime, id, payload in
            let onLoop = loopBox.value?.inEventLoop ?? false
            replies.mutate { $0.append((ltime, id, String(decoding: payload, as: UTF8.self), onLoop)) }
        }
        let spec = "query:load=read -r x; echo \"$x from $SERF_SELF_NAME\""
        try await withHandlers([spec], respond: respond) { h, loop in
            loopBox.mutate { $0 = loop }
            h.handle(query("load", payload: "pong"), selfMember: me)
            try await eventually("the reply") { !replies.value.isEmpty }
            try await eventually("the run to end") { h.load == (running: 0, queued: 0) }
            #expect(replies.value.count == 1)
            let (ltime, id, text, onLoop) = replies.value[0]
            #expect((ltime, id, text, onLoop) == (5, 77, "pong from node1\n", true))
        }
    }

    /// Runs one query through `specs` (`runs` of them match) and returns every reply.
    func replies(to specs: [String], runs: Int) async throws -> [String] {
        let replies = HandlerBox<[String]>([])
        let log = LogCapture()
        let respond: @Sendable (UInt64, UInt32, [UInt8]) -> Void = { _, _, p in
            replies.mutate { $0.append(String(decoding: p, as: UTF8.self)) }
        }
        try await withHandlers(specs, log: log, respond: respond) { h, loop in
            h.handle(query("q"), selfMember: me)
            // Every finished run logs its output at DEBUG; replies hop to the loop, so let it drain too.
            try await eventually("\(runs) runs") {
                log.all.filter { $0.message.hasPrefix("agent: Event 'query' script output:") }.count == runs
            }
            try await loop.submit {}.get()
        }
        return replies.value
    }

    @Test func theFirstHandlerInConfigurationOrderWithOutputAnswers() async throws {
        // Serf runs handlers in turn and the first with output wins; concurrency must not change the answer.
        #expect(try await replies(to: ["query=sleep 0.3; echo A", "query=echo B"], runs: 2) == ["A\n"])
        #expect(try await replies(to: ["query=sleep 0.2", "query=echo B", "query=echo C"], runs: 3) == ["B\n"])
        #expect(try await replies(to: ["query=echo A; exit 1", "query=sleep 0.1; echo B"], runs: 2) == ["B\n"])
        #expect(try await replies(to: ["query=true", "query=exit 2"], runs: 2) == [])
        #expect(try await replies(to: ["query:other=echo X", "*=echo star"], runs: 1) == ["star\n"])
    }

    @Test func internalQueriesAndOtherCoreEventsAreIgnored() async throws {
        let dir = try TemporaryDirectory("handlers")
        defer { dir.remove() }
        try await withHandlers(["echo \"$SERF_EVENT\" >> '\(dir.file("seen"))'"]) { handlers, _ in
            handlers.handle(query("_serf_ping"), selfMember: me)
            handlers.handle(.warning("x"), selfMember: me)
            handlers.handle(.leaveFinished, selfMember: me)
            handlers.handle(.queryFinished(id: 1), selfMember: me)
            handlers.handle(.memberReaped(handlerMember("gone")), selfMember: me)
            try await eventually("the reap") { dir.read("seen") == "member-reap\n" }
        }
    }

    @Test func memberEventsAreCoalescedIntoOneRun() async throws {
        let dir = try TemporaryDirectory("handlers")
        defer { dir.remove() }
        let settings = handlerTestSettings(
            coalesce: CoalescePeriods(period: .seconds(3), quiescent: .milliseconds(200)))
        let runs = dir.file("runs")
        let spec = "member-join,member-leave=cat >> '\(runs)'; echo --- >> '\(runs)'"
        try await withHandlers([spec], settings: settings) { handlers, _ in
            handlers.handle(.memberJoined(handlerMember("a", "10.0.0.1")), selfMember: me)
            handlers.handle(.memberJoined(handlerMember("b", "10.0.0.2", tags: ["role": "web"])), selfMember: me)
            handlers.handle(.memberUpdated(handlerMember("b", "10.0.0.2")), selfMember: me)  // not subscribed
            handlers.handle(.memberJoined(handlerMember("b", "10.0.0.2", tags: ["role": "web"])), selfMember: me)
            try await eventually("the coalesced run") { dir.read("runs")?.hasSuffix("---\n") == true }
            #expect(dir.read("runs") == "a\t10.0.0.1\t\t\nb\t10.0.0.2\tweb\trole=web\n---\n")
        }
    }

    @Test func reloadSwapsHandlersAndKeepsTheOldOnesOnError() async throws {
        let dir = try TemporaryDirectory("handlers")
        defer { dir.remove() }
        let log = LogCapture()
        let a = "user:deploy=cat >> '\(dir.file("a"))'"
        let b = "member-join,user=cat >> '\(dir.file("b"))'"
        try await withHandlers([a], log: log) { handlers, _ in
            #expect(handlers.stats == ["user:deploy": "cat >> '\(dir.file("a"))'"])
            handlers.handle(.userEvent(handlerUserEvent("deploy", "1")), selfMember: me)
            try await eventually("handler a") { dir.read("a") == "1\n" }

            try handlers.reload(configuration: [b])
            #expect(log.contains(.info, "agent: event handlers reloaded: 1 handler(s)"))
            let bScript = "cat >> '\(dir.file("b"))'"
            #expect(handlers.stats == ["member-join:": bScript, "user:": bScript])
            handlers.handle(.userEvent(handlerUserEvent("deploy", "2", ltime: 2)), selfMember: me)
            try await eventually("handler b") { dir.read("b") == "2\n" }

            #expect(throws: HandlerSpecError("event handler script /nonexistent/x.sh does not exist")) {
                try handlers.reload(configuration: ["user=/nonexistent/x.sh"])
            }
            #expect(throws: (any Error).self) { try handlers.reload(configuration: ["bogus=/bin/true"]) }
            #expect(handlers.specs.map(\.text) == [b])
            handlers.handle(.userEvent(handlerUserEvent("deploy", "3", ltime: 3)), selfMember: me)
            try await eventually("handler b again") { dir.read("b") == "2\n3\n" }
            #expect(dir.read("a") == "1\n")
        }
    }

    @Test func constructionFromConfigurationChecksScripts() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        #expect(throws: HandlerSpecError("event handler script /nonexistent/x.sh does not exist")) {
            _ = try EventHandlers(
                configuration: ["/nonexistent/x.sh"], eventLoop: group.next(), logger: LogCapture().logger)
        }
        let handlers = try EventHandlers(
            configuration: ["member-join=/bin/true", "query:load=echo hi"], eventLoop: group.next(),
            logger: LogCapture().logger)
        #expect(handlers.stats == ["member-join:": "/bin/true", "query:load": "echo hi"])
        try handlers.shutdown().wait()
    }
}
