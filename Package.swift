// swift-tools-version:6.1
import PackageDescription

/// Settings every Mizzen target shares (see ../shared/CONVENTIONS.md).
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "Mizzen",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "mizzen", targets: ["mizzen"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-http2", from: "1.46.0"),
    ],
    targets: [
        // libpcre2-8 (Debian libpcre2-dev): the regex engine, JIT-compiled, full match.
        .systemLibrary(
            name: "CPCRE2",
            pkgConfig: "libpcre2-8",
            providers: [.apt(["libpcre2-dev"])]
        ),
        // libyaml (Debian libyaml-dev): the YAML event parser under our own composer.
        .systemLibrary(
            name: "CLibYAML",
            pkgConfig: "yaml-0.1",
            providers: [.apt(["libyaml-dev"])]
        ),
        .target(
            name: "MizzenConfig",
            dependencies: [
                "CLibYAML",
                "CPCRE2",
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "MizzenRouting",
            dependencies: ["MizzenConfig"],
            swiftSettings: strictSettings
        ),
        // Istio's metrics, the access log, trace propagation and span export: generic over the
        // records MizzenProxy makes (no routing or proxy types), no locks on the request path.
        .target(
            name: "MizzenTelemetry",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "MizzenProxy",
            dependencies: [
                // Not MizzenConfig: clusters, routes and TLS settings arrive compiled by MizzenRouting.
                "MizzenRouting",
                "MizzenTelemetry",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // Where configuration comes from: the file watcher (inotify), and the Kubernetes API
        // server's list/watch (HTTP/1.1 over TLS on NIO), decoded by MizzenConfig.
        .target(
            name: "MizzenSources",
            dependencies: [
                "MizzenConfig",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // The admin, stats and health servers: endpoints over data the application hands in.
        .target(
            name: "MizzenAdmin",
            dependencies: [
                "MizzenTelemetry",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // What only a sidecar needs beside the engine: istio-init's iptables rules, pod injection.
        .target(
            name: "MizzenSidecar",
            dependencies: ["MizzenConfig"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "MizzenApp",
            dependencies: [
                "MizzenAdmin",
                "MizzenSidecar",
                "MizzenSources",
                "MizzenTelemetry",
                "MizzenConfig",
                "MizzenRouting",
                "MizzenProxy",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "mizzen",
            dependencies: [
                "MizzenApp",
                "MizzenSidecar",
                "MizzenSources",
                "MizzenProxy",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "ConfigLoadBenchmark",
            dependencies: ["MizzenConfig"],
            path: "Bench/ConfigLoadBenchmark",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "RoutingBenchmark",
            dependencies: ["MizzenConfig", "MizzenRouting"],
            path: "Bench/RoutingBenchmark",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MizzenConfigTests",
            dependencies: ["MizzenConfig"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MizzenRoutingTests",
            dependencies: ["MizzenRouting", "MizzenConfig"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MizzenProxyTests",
            dependencies: [
                "MizzenProxy", "MizzenRouting", "MizzenConfig", "MizzenTelemetry",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MizzenTelemetryTests",
            dependencies: [
                "MizzenTelemetry",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MizzenAdminTests",
            dependencies: ["MizzenAdmin", "MizzenTelemetry", .product(name: "NIOHTTP1", package: "swift-nio")],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MizzenSidecarTests",
            dependencies: ["MizzenSidecar", "MizzenConfig"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MizzenSourcesTests",
            dependencies: ["MizzenSources", "MizzenConfig"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MizzenAppTests",
            dependencies: ["MizzenApp"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MizzenSystemTests",
            dependencies: [],
            exclude: ["Peers"],
            swiftSettings: strictSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
