import RumorSupport
import Testing
@testable import RumorActions

@Suite struct ConfigurationTests {
    @Test func defaults() throws {
        let c = try HAProxyActionConfiguration(json: [:])
        #expect(c.selector == ["role": "backend"])
        #expect(c.template == "templates/haproxy.cfg.mustache")
        #expect(c.portTag == "port")
        #expect(c.defaultPort == 80)
        #expect(c.checkCommand == "haproxy -c -f {file}")
        #expect(c.apply == .runtime)
        #expect(c.debounceQuiet == .milliseconds(100))
        #expect(c.debounceMax == .milliseconds(500))
        #expect(c.frontendBind == "*:80")
        #expect(c.statsBind == "*:1936")
    }

    @Test func parsesEveryKey() throws {
        let c = try HAProxyActionConfiguration(json: [
            "selector": ["role": "web|api", "dc": "eu-.*"],
            "template": "/etc/rumor/lb.mustache",
            "output": "/etc/haproxy/haproxy.cfg",
            "port_tag": "http_port",
            "default_port": 8080,
            "check_command": "/usr/sbin/haproxy -c -q -f {file}",
            "apply": "reload",
            "haproxy_binary": "/usr/sbin/haproxy",
            "master_socket": "/run/m.sock",
            "stats_socket": "/run/s.sock",
            "debounce": ["quiet": "250ms", "max": "2s"],
            "drain_timeout": "1m30s",
            "frontend_bind": "127.0.0.1:8080",
            "stats_bind": "127.0.0.1:9000",
            "backend_name": "app",
            "slots": 32,
            "check_path": "/healthz",
            "vars": ["cookie": "X", "n": 3],
        ])
        #expect(c.selector == ["role": "web|api", "dc": "eu-.*"])
        #expect(c.portTag == "http_port")
        #expect(c.defaultPort == 8080)
        #expect(c.apply == .reload)
        #expect(c.debounceQuiet == .milliseconds(250))
        #expect(c.debounceMax == .seconds(2))
        #expect(c.drainTimeout == .seconds(90))
        #expect(c.slots == 32)
        #expect(c.vars == ["cookie": "X", "n": "3"])
        #expect(c.checkPath == "/healthz")
    }

    static let badConfigurations: [(json: JSON, key: String)] = [
        (["tempalte": "x"], "actions.haproxy.tempalte"),
        (["apply": "restart"], "actions.haproxy.apply"),
        (["default_port": 70000], "actions.haproxy.default_port"),
        (["default_port": "eighty"], "actions.haproxy.default_port"),
        (["debounce": ["quiet": "soon"]], "actions.haproxy.debounce.quiet"),
        (["debounce": ["quiet": "1s", "max": "100ms"]], "actions.haproxy.debounce.max"),
        (["debounce": ["quite": "1s"]], "actions.haproxy.debounce.quite"),
        (["selector": ["role": "(unclosed"]], "actions.haproxy.selector.role"),
        (["selector": ["role": 3.5]], "actions.haproxy.selector.role"),
        (["apply": "signal"], "actions.haproxy.pid_file"),
        (["check_command": "haproxy -c -f"], "actions.haproxy.check_command"),
        (["check_command": "haproxy -c -f '{file}"], "actions.haproxy.check_command"),
        (["stats_socket": .string(String(repeating: "s", count: 120))], "actions.haproxy.stats_socket"),
        (["backend_name": "my backend"], "actions.haproxy.backend_name"),
        (["template": "builtin:nope"], "actions.haproxy.template"),
        (["output": 3], "actions.haproxy.output"),
        ("haproxy", "actions.haproxy"),
    ]

    @Test(arguments: badConfigurations)
    func errorsNameTheKey(json: JSON, key: String) {
        #expect {
            try HAProxyActionConfiguration(json: json)
        } throws: { error in
            (error as? HAProxyActionConfigurationError)?.key == key
        }
    }

    @Test func flagInit() throws {
        let c = try HAProxyActionConfiguration(
            output: "/tmp/h.cfg", template: "builtin:tcp", selectors: ["role=db", "zone=a|b"])
        #expect(c.output == "/tmp/h.cfg")
        #expect(c.template == "builtin:tcp")
        #expect(c.selector == ["role": "db", "zone": "a|b"])
        let d = try HAProxyActionConfiguration(output: "/tmp/h.cfg")
        #expect(d.selector == ["role": "backend"])
        #expect(throws: HAProxyActionConfigurationError.self) {
            try HAProxyActionConfiguration(output: "/tmp/h.cfg", selectors: ["role"])
        }
    }

    @Test func commandSplitting() {
        #expect(CommandLineSplitter.split("haproxy -c -f {file}") == ["haproxy", "-c", "-f", "{file}"])
        #expect(CommandLineSplitter.split(#"sh -c "echo 'a b'" x\ y"#) == ["sh", "-c", "echo 'a b'", "x y"])
        #expect(CommandLineSplitter.split("a 'b") == nil)
        #expect(CommandLineSplitter.split("  ") == [])
    }
}
