import Foundation
import RumorAgent
import RumorCore
import RumorTestSupport
import RumorWire
import Testing

@Suite("Handler specs: [FILTER=]SCRIPT")
struct HandlerSpecTests {
    static let expected =
        "(expected member-join, member-leave, member-failed, member-update, member-reap, user, user:NAME, query, "
        + "query:NAME, container, container-start, container-healthy, container-unhealthy, container-exit, container-replaced or *)"

    @Test("every filter form parses", arguments: [
        ("/x.sh", [EventFilter.all], "/x.sh"),
        ("*=/x.sh", [.all], "/x.sh"),
        ("=/x.sh", [.all], "/x.sh"),
        ("member-join=/x.sh", [.member(.join)], "/x.sh"),
        ("member-leave=/x.sh", [.member(.leave)], "/x.sh"),
        ("member-failed=/x.sh", [.member(.failed)], "/x.sh"),
        ("member-update=/x.sh", [.member(.update)], "/x.sh"),
        ("member-reap=/x.sh", [.member(.reap)], "/x.sh"),
        ("user=/x.sh", [.user(name: nil)], "/x.sh"),
        ("user:deploy=/x.sh", [.user(name: "deploy")], "/x.sh"),
        ("user:=/x.sh", [.user(name: nil)], "/x.sh"),
        ("query=/x.sh", [.query(name: nil)], "/x.sh"),
        ("query:load=/x.sh", [.query(name: "load")], "/x.sh"),
        ("member-join,member-leave,user:deploy=/x.sh", [.member(.join), .member(.leave), .user(name: "deploy")],
         "/x.sh"),
        (" member-join , query:load =/x.sh", [.member(.join), .query(name: "load")], "/x.sh"),
        ("member-join,member-join=/x.sh", [.member(.join)], "/x.sh"),
        ("user:deploy=FOO=1 /x.sh --a=b", [.user(name: "deploy")], "FOO=1 /x.sh --a=b"),
        ("echo hi >> /tmp/f", [.all], "echo hi >> /tmp/f"),
    ])
    func parses(text: String, filters: [EventFilter], script: String) throws {
        let spec = try HandlerSpec.parse(text)
        #expect(spec.filters == filters)
        #expect(spec.script == script)
        #expect(spec.text == text)
    }

    @Test("every error names the handler and the problem", arguments: [
        ("foo=/x.sh", "invalid event handler 'foo=/x.sh': unknown event type 'foo' \(expected)"),
        ("member-join,bogus=/x.sh",
         "invalid event handler 'member-join,bogus=/x.sh': unknown event type 'bogus' \(expected)"),
        ("member-join:web=/x.sh",
         "invalid event handler 'member-join:web=/x.sh': unknown event type 'member-join:web' \(expected)"),
        ("*:x=/x.sh", "invalid event handler '*:x=/x.sh': unknown event type '*:x' \(expected)"),
        ("Member-Join=/x.sh",
         "invalid event handler 'Member-Join=/x.sh': unknown event type 'Member-Join' \(expected)"),
        ("FOO=1 /x.sh",
         "invalid event handler 'FOO=1 /x.sh': unknown event type 'FOO' \(expected); a script containing '=' needs an "
            + "explicit filter, e.g. '*=FOO=1 /x.sh'"),
        ("/x.sh --opt=1",
         "invalid event handler '/x.sh --opt=1': unknown event type '/x.sh --opt' \(expected); a script containing '=' "
            + "needs an explicit filter, e.g. '*=/x.sh --opt=1'"),
        ("member-join,,user=/x.sh",
         "invalid event handler 'member-join,,user=/x.sh': empty event type in 'member-join,,user'"),
        ("member-join,=/x.sh", "invalid event handler 'member-join,=/x.sh': empty event type in 'member-join,'"),
        ("member-join=", "invalid event handler 'member-join=': empty script"),
        ("member-join=   ", "invalid event handler 'member-join=   ': empty script"),
        ("", "invalid event handler '': empty script"),
        ("=", "invalid event handler '=': empty script"),
    ])
    func rejects(text: String, message: String) {
        #expect(throws: HandlerSpecError(message)) { try HandlerSpec.parse(text) }
    }

    @Test func matchingFollowsSerf() throws {
        let self1 = handlerMember("a")
        let join = HandlerEvent.member(.join, [self1])
        let leave = HandlerEvent.member(.leave, [self1])
        let deploy = HandlerEvent.user(handlerUserEvent("deploy", "v1"))
        let restart = HandlerEvent.user(handlerUserEvent("restart", ""))
        let load = HandlerEvent.query(HandlerQuery(ltime: 1, id: 1, name: "load", payload: []) { _ in })
        let ping = HandlerEvent.query(HandlerQuery(ltime: 1, id: 2, name: "ping", payload: []) { _ in })
        let all = [join, leave, deploy, restart, load, ping]
        func matched(_ text: String) throws -> [Bool] {
            let spec = try HandlerSpec.parse(text)
            return all.map(spec.matches)
        }
        #expect(try matched("/x") == [true, true, true, true, true, true])
        #expect(try matched("member-join=/x") == [true, false, false, false, false, false])
        #expect(try matched("member-join,member-leave=/x") == [true, true, false, false, false, false])
        #expect(try matched("user=/x") == [false, false, true, true, false, false])
        #expect(try matched("user:deploy=/x") == [false, false, true, false, false, false])
        #expect(try matched("query=/x") == [false, false, false, false, true, true])
        #expect(try matched("query:load=/x") == [false, false, false, false, true, false])
        #expect(try matched("member-failed,member-update,member-reap=/x") == [false, false, false, false, false, false])
        #expect(try HandlerSpec.parse("member-update=/x").matches(.member(.update, [self1])))
        #expect(try HandlerSpec.parse("member-reap=/x").matches(.member(.reap, [self1])))
    }

    @Test func statsKeysAreSerfs() throws {
        let spec = try HandlerSpec.parse("member-join,user:deploy,user,query:load,*=/x.sh")
        #expect(spec.statsEntries.map(\.key) == ["member-join:", "user:deploy", "user:", "query:load", "*:"])
        #expect(spec.statsEntries.allSatisfy { $0.script == "/x.sh" })
    }

    @Test func validateChecksPlainPaths() throws {
        let dir = try TemporaryDirectory("handlers")
        defer { dir.remove() }
        let good = try dir.script("good.sh", "exit 0")
        let plain = dir.file("plain.sh")
        try "echo".write(toFile: plain, atomically: true, encoding: .utf8)
        chmod(plain, 0o644)

        try HandlerSpec.parse("member-join=\(good)").validateScript()
        try HandlerSpec.parse("member-join=\(good) --flag value").validateScript()
        #expect(throws: HandlerSpecError("event handler script /nonexistent/x.sh does not exist")) {
            try HandlerSpec.parse("/nonexistent/x.sh").validateScript()
        }
        #expect(throws: HandlerSpecError("event handler script \(plain) is not executable")) {
            try HandlerSpec.parse("user=\(plain) arg").validateScript()
        }
        #expect(throws: HandlerSpecError("event handler script \(dir.path) is a directory")) {
            try HandlerSpec.parse(dir.path).validateScript()
        }
        // Shell command lines are the shell's business.
        for line in ["echo hi >> /nonexistent/f", "$HOME/nonexistent.sh", "~/x/y.sh", "'/no such/x.sh'",
                     "*=FOO=1 /nonexistent/x.sh", "cd /tmp && ./x.sh", "   "] {
            guard let spec = try? HandlerSpec.parse(line) else { continue }
            try spec.validateScript()
        }
    }

    @Test func parseAllValidatesUnlessAsked() throws {
        #expect(throws: HandlerSpecError("event handler script /nonexistent/x.sh does not exist")) {
            try HandlerSpec.parseAll(["member-join=/bin/true", "user=/nonexistent/x.sh"])
        }
        let specs = try HandlerSpec.parseAll(
            ["member-join=/bin/true", "user=/nonexistent/x.sh"], validateScripts: false)
        #expect(specs.count == 2)
    }
}

@Suite("Container events reach only handlers that name them") struct ContainerHandlerFilterTests {
    @Test func starDoesNotMatchButContainerFiltersDo() throws {
        let event = HandlerEvent.action(type: "container-exit", environment: ["RUMOR_APP": "site", "RUMOR_EXIT_CODE": "137"])
        #expect(try !HandlerSpec.parse("/x.sh").matches(event))
        #expect(try HandlerSpec.parse("container=/x.sh").matches(event))
        #expect(try HandlerSpec.parse("container-exit,member-join=/x.sh").matches(event))
        #expect(try !HandlerSpec.parse("container-start=/x.sh").matches(event))
        let member = Member(name: "n", address: Address(host: "10.0.0.1", port: 7946)!, tags: [:], status: .alive, vsn: [])
        let invocation = ScriptInvocation(script: "/x.sh", event: event, selfMember: member)
        #expect(invocation.variables.first { $0.name == "SERF_EVENT" }?.value == "container-exit")
        #expect(invocation.variables.contains { $0 == ("RUMOR_EXIT_CODE", "137") })
    }
}
