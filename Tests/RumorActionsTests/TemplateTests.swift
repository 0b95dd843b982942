import RumorSupport
import Foundation
import RumorCore
import RumorWire
import Testing
@testable import RumorActions
import RumorTestSupport

@Suite struct TemplateTests {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static let goldenDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Golden").path

    /// A fixed cluster: three selected alive backends (one with a port tag missing), one leaving, one failed, one
    /// with another role, and the load balancer itself.
    static let members: [Member] = [
        member("web-2", "10.1.0.12", ["role": "backend", "port": "3000", "version": "2"]),
        member("web-1", "10.1.0.11", ["role": "backend", "port": "3000", "version": "1"]),
        member("web-3", "10.1.0.13", ["role": "backend"]),
        member("web-4", "10.1.0.14", ["role": "backend", "port": "3000"], .leaving),
        member("web-5", "10.1.0.15", ["role": "backend", "port": "3000"], .failed),
        member("db-1", "10.1.0.21", ["role": "db", "port": "5432"]),
        member("lb", "10.1.0.2", ["role": "lb", "dc": "eu"]),
    ]

    static func member(
        _ name: String, _ host: String, _ tags: [String: String], _ status: MemberStatus = .alive
    ) -> Member {
        Member(name: name, address: Address(host: host, port: 7946)!, tags: tags, status: status, vsn: [])
    }

    static func goldenConfiguration(template: String) -> HAProxyActionConfiguration {
        var c = HAProxyActionConfiguration()
        c.template = template
        c.frontendBind = "127.0.0.1:8080"
        c.statsBind = "127.0.0.1:1936"
        c.statsSocket = "/run/haproxy/admin.sock"
        c.slots = 4
        return c
    }

    /// Renders `members` the way the pipeline does: the leaving member had a slot before, so it drains.
    static func render(template: String, members: [Member] = members) throws -> String {
        let config = goldenConfiguration(template: template)
        let selector = try MemberSelector(configuration: config)
        let now = ContinuousClock.now
        let allAlive = members.map { m in
            var m = m
            if m.status == .leaving { m.status = .alive }
            return m
        }
        let previous = SlotTable(count: 0).planned(
            for: selector.select(allAlive).backends, now: now, drainTimeout: .seconds(30), minimumSlots: 4)
        let (backends, _) = selector.select(members)
        let table = previous.planned(for: backends, now: now, drainTimeout: .seconds(30), minimumSlots: config.slots)
        let renderer = try HAProxyTemplateRenderer.load(template)
        let context = HAProxyTemplateContext.make(
            configuration: config, table: table, backends: backends, localName: "lb",
            localTags: ["role": "lb", "dc": "eu"], templateName: renderer.name)
        return renderer.render(context)
    }

    @Test(arguments: ["haproxy.cfg", "haproxy-sticky.cfg", "haproxy-tcp.cfg"])
    func goldenRenderAcceptedByHAProxy(name: String) async throws {
        let templatePath = "\(Self.repoRoot)/templates/\(name).mustache"
        let rendered = try Self.render(template: templatePath).replacing(Self.repoRoot + "/", with: "")
        let goldenPath = "\(Self.goldenDirectory)/\(name)"
        if ProcessInfo.processInfo.environment["RUMOR_UPDATE_GOLDEN"] == "1" {
            try rendered.write(toFile: goldenPath, atomically: true, encoding: .utf8)
        }
        let golden = try String(contentsOfFile: goldenPath, encoding: .utf8)
        #expect(rendered == golden, "render of \(name) differs from \(goldenPath) (RUMOR_UPDATE_GOLDEN=1 rewrites)")

        // The three selected alive members are ready, the leaving one drains (disabled in the file), the failed
        // one, the db and the lb are not there; free slots are disabled placeholders.
        #expect(rendered.contains("server srv1 10.1.0.11:3000\n") || rendered.contains("server srv1 10.1.0.11:3000 "))
        #expect(rendered.contains("server srv2 10.1.0.12:3000"))
        #expect(rendered.contains("server srv3 10.1.0.13:80"))
        #expect(rendered.contains("server srv4 10.1.0.14:3000 disabled"))
        #expect(!rendered.contains("10.1.0.15") && !rendered.contains("10.1.0.21"))

        // HAProxy itself accepts it.
        let directory = try TemporaryDirectory("golden")
        defer { directory.remove() }
        let file = directory.file(name)
        try rendered.write(toFile: file, atomically: true, encoding: .utf8)
        let result = try await offPool { try ChildProcess.run([TestBackendServer.haproxyBinary, "-c", "-f", file]) }
        #expect(result.status.succeeded, "haproxy -c rejected \(name): \(result.output)")
    }

    @Test(arguments: BuiltinTemplates.names)
    func builtinTemplatesMatchTheShippedFiles(name: String) throws {
        let builtin = try #require(BuiltinTemplates.named(name))
        let file = try String(contentsOfFile: "\(Self.repoRoot)/templates/\(builtin.fileName)", encoding: .utf8)
        #expect(
            builtin.source == file,
            "Sources/RumorActions/BuiltinTemplates.swift is out of date for \(name): run templates/embed.sh")
    }

    @Test func contextExposesBackendsSlotsSelfAndTags() throws {
        let source = """
            {{count}} of {{slot_count}} self={{self.name}} dc={{self.tags.dc}}
            {{#backends}}
            {{index}} {{name}} {{address}}:{{port}} slot={{slot}} {{server}} v={{tags.version}} {{status}}\
            {{#tag_list}} {{key}}={{value}}{{/tag_list}}
            {{/backends}}
            {{#slots}}
            {{server}} {{state}}{{#used}} {{name}}{{/used}}
            {{/slots}}
            mode={{mode}} runtime={{#runtime}}yes{{/runtime}} & <escaped?>
            """
        let directory = try TemporaryDirectory("ctx")
        defer { directory.remove() }
        let path = directory.file("t.mustache")
        try source.write(toFile: path, atomically: true, encoding: .utf8)
        let rendered = try Self.render(template: path)
        #expect(rendered == """
            3 of 4 self=lb dc=eu
            0 web-1 10.1.0.11:3000 slot=1 srv1 v=1 alive port=3000 role=backend version=1
            1 web-2 10.1.0.12:3000 slot=2 srv2 v=2 alive port=3000 role=backend version=2
            2 web-3 10.1.0.13:80 slot=3 srv3 v= alive role=backend
            srv1 ready web-1
            srv2 ready web-2
            srv3 ready web-3
            srv4 drain web-4
            mode=runtime runtime=yes & <escaped?>
            """)
    }

    @Test func memberStringsCannotInjectConfigLines() throws {
        let evil = Self.member("evil\nbackend x", "10.1.0.30", ["role": "backend", "port": "3000", "note": "a\nb\rc"])
        let directory = try TemporaryDirectory("inj")
        defer { directory.remove() }
        let path = directory.file("t.mustache")
        try "{{#backends}}{{name}}|{{tags.note}}{{/backends}}".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try Self.render(template: path, members: [evil]) == "evil_backend x|a_b_c")
        // A port tag that is not a port leaves the member out instead of breaking the file.
        let badPort = Self.member("bad", "10.1.0.31", ["role": "backend", "port": "80 backup"])
        #expect(try Self.render(template: path, members: [badPort]) == "")
    }

    @Test func syntaxErrorNamesFileLineAndProblem() throws {
        let source = """
            global
                maxconn 100
            backend b
            {{#slots}}
                server {{server}} {{address}}:{{port}}
            {{/slot}}
            """
        let directory = try TemporaryDirectory("syntax")
        defer { directory.remove() }
        let path = directory.file("broken.mustache")
        try source.write(toFile: path, atomically: true, encoding: .utf8)
        #expect {
            try HAProxyTemplateRenderer.load(path)
        } throws: { error in
            guard case .templateSyntax(let file, let line, _, let reason, let text) = error as? HAProxyActionError
            else { return false }
            return file == path && line == 6 && reason.contains("does not match") && text.contains("{{/slot}}")
        }

        // An unfinished tag on the first line: the column is the template's own (the pragma rumor adds is hidden).
        #expect {
            try HAProxyTemplateRenderer(source: "global {{name\n", name: "first.mustache")
        } throws: { error in
            guard case .templateSyntax(let file, let line, let column, _, let text) = error as? HAProxyActionError
            else { return false }
            return file == "first.mustache" && line == 1 && column == 8 && text == "global {{name"
        }

        // An unclosed section is reported where it was opened, not at the end of the file.
        let error = try #require(throws: HAProxyActionError.self) {
            try HAProxyTemplateRenderer(source: "a\nb\n  {{#x}}\nc\n", name: "unclosed.mustache")
        }
        #expect(
            error.description.hasPrefix(
                "unclosed.mustache:3:3: template syntax error: section \"x\" is never closed"))
    }
}
