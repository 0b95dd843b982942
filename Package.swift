// swift-tools-version:6.2
import PackageDescription

// Layers (see docs in README): Wire (pure codec) <- Core (pure protocol) <- Runtime (NIO) <- Agent <- CLI.
// The simulator drives the pure core only, so protocol tests need no sockets or clocks.
let package = Package(
    name: "rumor",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "rumor", targets: ["rumor"]),
        .library(name: "RumorCore", targets: ["RumorCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        // Already built for swift-nio (DequeModule); the core takes its persistent TreeDictionary (see Instance) and
        // Heap (BroadcastQueue.take).
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
    ],
    targets: [
        // MARK: Pure layers
        .target(name: "RumorWire"),
        // Prometheus's text format and a histogram: what every layer counts with, pure.
        .target(name: "RumorMetrics"),
        // Foundation-free support every IO layer shares, one copy each (JSON, files, child processes, durations,
        // host:port, name lookup).
        .target(name: "RumorSupport"),
        .target(
            name: "RumorCore",
            dependencies: [
                "RumorWire", "RumorMetrics", .product(name: "HashTreeCollections", package: "swift-collections"),
                .product(name: "HeapModule", package: "swift-collections"),
            ]),
        .target(name: "RumorSimulator", dependencies: ["RumorCore", "RumorWire"]),
        // bench/convergence.py: the simulator at 1,000 to 10,000 nodes beside Serf's convergence model.
        .executableTarget(name: "rumor-convergence", dependencies: ["RumorSimulator", "RumorCore"]),

        // MARK: Crypto (libsodium is the only crypto dependency; unsafe pointers stay in RumorCrypto)
        .systemLibrary(name: "CSodium", pkgConfig: "libsodium", providers: [.apt(["libsodium-dev"])]),
        .target(name: "RumorCrypto", dependencies: ["CSodium", "RumorSupport"]),

        // MARK: IO layers
        .target(
            name: "RumorRuntime",
            dependencies: [
                "RumorCore", "RumorWire", "RumorCrypto",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "RumorAgent",
            dependencies: [
                "RumorRuntime", "RumorCore", "RumorWire", "RumorCrypto", "RumorSupport", "RumorApps", "RumorMetrics",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // MARK: Built-in actions (consume member snapshots; never reach into the core)
        .target(
            name: "RumorActions",
            dependencies: [
                "RumorCore", "RumorWire", "RumorSupport", "RumorApps", "RumorMetrics",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // MARK: Containers (issue: container action). Docker's API over its unix socket; app decisions are pure.
        .target(
            name: "RumorDocker",
            dependencies: [
                "RumorSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        .target(name: "RumorApps", dependencies: ["RumorSupport", "RumorWire"]),
        .target(
            name: "RumorContainers",
            dependencies: [
                "RumorDocker", "RumorApps", "RumorCore", "RumorSupport", "RumorMetrics",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "RumorCLI",
            dependencies: [
                "RumorAgent", "RumorWire", "RumorCrypto", "RumorActions", "RumorSupport", "RumorContainers", "RumorApps",
                "RumorCore", "RumorRuntime",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(name: "rumor", dependencies: ["RumorCLI"]),

        // MARK: Tests
        // Helpers several test targets share (loopback HTTP, polling with deadlines, wrk's report, hex vectors).
        .target(name: "RumorTestSupport", path: "Tests/Support"),
        .testTarget(name: "RumorSupportTests", dependencies: ["RumorSupport", "RumorTestSupport"]),
        .testTarget(name: "RumorMetricsTests", dependencies: ["RumorMetrics"]),
        .testTarget(name: "RumorWireTests", dependencies: ["RumorWire", "RumorTestSupport"]),
        .testTarget(name: "RumorCoreTests", dependencies: ["RumorCore", "RumorWire", "RumorMetrics", "RumorTestSupport"]),
        .testTarget(name: "RumorCryptoTests", dependencies: ["RumorCrypto", "RumorWire", "RumorSupport", "RumorTestSupport"]),
        .testTarget(
            name: "RumorRuntimeTests",
            dependencies: ["RumorRuntime", "RumorCore", "RumorWire", .product(name: "Logging", package: "swift-log"),
                           .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio")]),
        .testTarget(name: "RumorSimulationTests", dependencies: ["RumorSimulator", "RumorCore"]),
        .testTarget(name: "RumorAgentTests", dependencies: ["RumorAgent", "RumorCLI", "RumorWire", "RumorSupport", "RumorTestSupport"]),
        .testTarget(name: "RumorInteropTests", dependencies: ["RumorWire", "RumorSupport", "RumorTestSupport"]),
        .testTarget(name: "RumorDockerTests", dependencies: ["RumorDocker", "RumorSupport", "RumorTestSupport"]),
        .testTarget(name: "RumorAppsTests", dependencies: ["RumorApps", "RumorSupport", "RumorWire"]),
        .testTarget(
            name: "RumorContainersTests",
            dependencies: ["RumorContainers", "RumorDocker", "RumorApps", "RumorActions", "RumorCore", "RumorSupport",
                           "RumorTestSupport", .product(name: "NIOPosix", package: "swift-nio")]),
        .testTarget(
            name: "RumorActionsTests", dependencies: ["RumorActions", "RumorCore", "RumorWire", "RumorSupport", "RumorTestSupport"],
            exclude: ["Golden"]),  // read from disk by path, not bundled
    ]
)

for target in package.targets where target.type != .system {
    var settings = target.swiftSettings ?? []
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    settings.append(.enableUpcomingFeature("MemberImportVisibility"))
    target.swiftSettings = settings
}
