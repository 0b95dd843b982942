import Foundation
import Logging
import RumorAgent
@testable import RumorCore
import RumorTestSupport
import Testing

/// The scripts in handlers/, driven through ``EventHandlers`` with realistic events, as their headers describe.
@Suite("Handler example scripts", .timeLimit(.minutes(2)))
struct HandlerExampleScriptTests {
    /// <repo>/handlers, from <repo>/Tests/RumorAgentTests/Handlers/this file.
    static let root = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("handlers").path

    let me = handlerMember("lb1", "10.0.0.9", tags: ["role": "lb"])
    let web1 = handlerMember("web1", "10.0.0.5", tags: ["role": "web", "dc": "lab1"])
    let web2 = handlerMember("web2", "10.0.0.6", tags: ["role": "web"])
    let db1 = handlerMember("db1", "10.0.0.7", tags: ["role": "db"])

    func script(_ name: String) -> String { Self.root + "/" + name }

    @Test func scriptsAreExecutableAndDocumented() throws {
        for name in ["log-members.sh", "nodes-dir.sh", "load-query.sh", "deploy.sh"] {
            let path = script(name)
            try HandlerSpec.parse(path).validateScript()
            let text = try String(contentsOfFile: path, encoding: .utf8)
            #expect(text.hasPrefix("#!/bin/sh\n# \(name): "))
            #expect(text.contains("Usage"))
        }
    }

    @Test func logMembersAppendsJoinsLeavesAndFailures() async throws {
        let dir = try TemporaryDirectory("handlers")
        defer { dir.remove() }
        let log = dir.file("members.log")
        let spec = "member-join,member-leave,member-failed,member-update="
            + "RUMOR_LOG_FILE='\(log)' \(script("log-members.sh"))"
        try await withHandlers([spec]) { handlers, _ in
            handlers.handle(.member(.join, [web1, db1]), selfMember: me)
            handlers.handle(.member(.update, [web1]), selfMember: me)  // not logged
            handlers.handle(.member(.leave, [db1]), selfMember: me)
            handlers.handle(.member(.failed, [web1]), selfMember: me)
            try await eventually("four lines") { (dir.read("members.log") ?? "").split(separator: "\n").count == 4 }
            try await eventually("the update run") { handlers.load == (running: 0, queued: 0) }
        }
        let lines = (dir.read("members.log") ?? "").split(separator: "\n").map(String.init)
        let stamp = #/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ /#
        #expect(lines.allSatisfy { $0.firstMatch(of: stamp) != nil })
        #expect(lines.map { String($0.dropFirst(21)) } == [
            "member-join web1 10.0.0.5 web dc=lab1,role=web",
            "member-join db1 10.0.0.7 db role=db",
            "member-leave db1 10.0.0.7 db role=db",
            "member-failed web1 10.0.0.5 web dc=lab1,role=web",
        ])
    }

    @Test func nodesDirTracksCurrentBackends() async throws {
        let dir = try TemporaryDirectory("handlers")
        defer { dir.remove() }
        let nodes = dir.file("nodes")
        let spec = "member-join,member-leave,member-failed,member-update,member-reap="
            + "NODES_DIR='\(nodes)' NODES_ROLE=web \(script("nodes-dir.sh"))"
        let log = LogCapture()
        try await withHandlers([spec], log: log) { handlers, _ in
            let listing: @Sendable () -> [String] = {
                ((try? FileManager.default.contentsOfDirectory(atPath: nodes)) ?? []).sorted()
            }
            handlers.handle(.member(.join, [web1, web2, db1]), selfMember: me)
            try await eventually("two backends") { listing() == ["web1", "web2"] }
            #expect(dir.read("nodes/web1") == "10.0.0.5\n")
            #expect(dir.read("nodes/web2") == "10.0.0.6\n")

            handlers.handle(.member(.leave, [web1]), selfMember: me)
            try await eventually("web1 gone") { listing() == ["web2"] }
            // web2 changes role: no longer a backend.
            handlers.handle(.member(.update, [handlerMember("web2", "10.0.0.6", tags: ["role": "db"])]), selfMember: me)
            try await eventually("web2 demoted") { listing() == [] }
            let web3 = handlerMember("web3", "10.0.0.8", tags: ["role": "web"])
            handlers.handle(.member(.join, [web1, web3]), selfMember: me)
            try await eventually("rejoined") { listing() == ["web1", "web3"] }
            handlers.handle(.member(.failed, [web1]), selfMember: me)
            handlers.handle(.member(.reap, [handlerMember("web3")]), selfMember: me)
            try await eventually("failed and reaped") { listing() == [] }
            // A hostile name cannot escape the directory; the script says so and carries on.
            handlers.handle(.member(.join, [handlerMember("../evil", tags: ["role": "web"]), web2]), selfMember: me)
            try await eventually("web2 back") { listing() == ["web2"] }
            #expect(!FileManager.default.fileExists(atPath: dir.file("evil")))
        }
    }

    @Test func loadQueryAnswersWithTheLoadAverage() async throws {
        let replies = HandlerBox<[String]>([])
        try await withHandlers(["query:load=\(script("load-query.sh"))"], respond: { _, _, payload in
            replies.mutate { $0.append(String(decoding: payload, as: UTF8.self)) }
        }) { handlers, _ in
            let query = IncomingQuery(
                ltime: 3, id: 1, name: "load", payload: [], deadline: Instant(nanoseconds: 0), timeout: .seconds(3),
                source: "n2")
            handlers.handle(.query(query), selfMember: me)
            try await eventually("the reply") { !replies.value.isEmpty }
        }
        let reply = try #require(replies.value.first)
        let shape = #/^load average: \d+\.\d\d, \d+\.\d\d, \d+\.\d\d; up (\d+ days?, )?\d\d:\d\d\n$/#
        #expect(reply.firstMatch(of: shape) != nil, "unexpected reply \(reply)")
        #expect(reply.utf8.count < 200)
    }

    @Test func deployRecordsTheVersion() async throws {
        let dir = try TemporaryDirectory("handlers")
        defer { dir.remove() }
        let log = LogCapture()
        let spec = "user:deploy=DEPLOY_LOG='\(dir.file("deploy.log"))' \(script("deploy.sh"))"
        try await withHandlers([spec], log: log) { handlers, _ in
            handlers.handle(.userEvent(handlerUserEvent("deploy", "v1.2.3", ltime: 42)), selfMember: me)
            handlers.handle(.userEvent(handlerUserEvent("restart", "v9", ltime: 43)), selfMember: me)  // other name
            handlers.handle(.userEvent(handlerUserEvent("deploy", "v1.2.4\nignored", ltime: 44)), selfMember: me)
            handlers.handle(.userEvent(handlerUserEvent("deploy", "", ltime: 45)), selfMember: me)
            try await eventually("the refusal") { log.contains(.error, "deploy: no version in the event payload") }
        }
        let lines = (dir.read("deploy.log") ?? "").split(separator: "\n").map { String($0.dropFirst(21)) }
        #expect(lines == ["lb1 deploy version=v1.2.3 ltime=42", "lb1 deploy version=v1.2.4 ltime=44"])
        #expect(log.contains(.error, "exit status 1; output tail: deploy: no version in the event payload\\n"))
    }
}
