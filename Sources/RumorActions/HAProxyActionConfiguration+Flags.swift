import RumorSupport

extension HAProxyActionConfiguration {
    /// The HAProxy action's flags: the common case without a config file.
    public static let flags: [ActionFlag] = [
        ActionFlag("haproxy-config", value: "path", "Run the HAProxy action, writing this config file."),
        ActionFlag("haproxy-template", value: "path", "Mustache template for the HAProxy config."),
        ActionFlag("haproxy-app", value: "name", "Balance this app's containers: one server per container."),
        ActionFlag("haproxy-selector", value: "tag=regexp", repeatable: true, "Members the HAProxy action balances."),
    ]

    /// The action from its `actions.haproxy` section, overridden by its flags (name → values); nil when neither
    /// asks for one.
    public static func configured(section: JSON?, flags: [String: [String]]) throws -> HAProxyActionConfiguration? {
        let output = flags["haproxy-config"]?.last, template = flags["haproxy-template"]?.last
        let app = flags["haproxy-app"]?.last, selectors = flags["haproxy-selector"] ?? []
        var result: HAProxyActionConfiguration?
        if let section { result = try HAProxyActionConfiguration(json: section) }
        if let output {
            if result == nil { result = HAProxyActionConfiguration() }
            result?.output = output
        }
        func needsConfig(_ flag: String) -> HAProxyActionConfigurationError {
            HAProxyActionConfigurationError(key: "--\(flag)", message: "needs --haproxy-config (or an actions.haproxy section)")
        }
        if let app {
            guard result != nil else { throw needsConfig("haproxy-app") }
            result?.app = app
            if selectors.isEmpty && section?["selector"] == nil { result?.selector = [:] }
        }
        if let template {
            guard result != nil else { throw needsConfig("haproxy-template") }
            result?.template = template
        }
        if !selectors.isEmpty {
            guard result != nil else { throw needsConfig("haproxy-selector") }
            result?.selector = try HAProxyActionConfiguration.selector(fromFlags: selectors)
        }
        try result?.validate()
        return result
    }
}
