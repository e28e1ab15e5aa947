// swift-tools-version: 6.2
import PackageDescription

let strict: [SwiftSetting] = [.treatAllWarnings(as: .error)]

let package = Package(
    name: "swift-ras",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "SystemIO", targets: ["SystemIO"]),
        .library(name: "Serial", targets: ["Serial"]),
        .library(name: "Hayes", targets: ["Hayes"]),
        .library(name: "RAS", targets: ["RAS"]),
        .library(name: "RASService", targets: ["RASService"]),
        .library(name: "FakeModem", targets: ["FakeModem"]),
        .executable(name: "fakemodem", targets: ["fakemodem"]),
        .executable(name: "rasmand", targets: ["rasmand"]),
        .executable(name: "rasdial", targets: ["rasdial"]),
        .library(name: "ModemDiscovery", targets: ["ModemDiscovery"]),
        .library(name: "RASMetrics", targets: ["RASMetrics"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        // rasmand --metrics-listen: the Prometheus registry and its text exposition, served
        // over HTTP by NIO on its own event loop (modem I/O stays on SystemIO's reactor).
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        // `swift package generate-documentation --target RAS` (the DocC catalog Sources/RAS/RAS.docc).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // The C shim of SystemIO and Serial: libc calls Swift's Glibc module hides.
        .target(name: "CSystemSupport"),
        // The one OS layer: descriptors, the epoll reactor, Unix sockets, files, flock,
        // signals, processes, and the errno funnel.
        .target(
            name: "SystemIO",
            dependencies: ["CSystemSupport", .product(name: "SystemPackage", package: "swift-system")],
            swiftSettings: strict),
        // Serial ports only: termios, modem lines, UUCP locks, ptys.
        .target(
            name: "Serial",
            dependencies: ["SystemIO", "CSystemSupport", .product(name: "SystemPackage", package: "swift-system")],
            swiftSettings: strict),
        .target(
            name: "Hayes",
            dependencies: ["Serial", "SystemIO", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict),
        .target(
            name: "RAS",
            dependencies: ["Hayes", "Serial", "SystemIO", .product(name: "Logging", package: "swift-log")],
            exclude: ["PHONEBOOK.md"],
            swiftSettings: strict),
        .target(
            name: "RASService",
            dependencies: ["RAS", "SystemIO", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict),
        .target(
            name: "FakeModem",
            dependencies: ["Serial", "SystemIO", .product(name: "Yams", package: "Yams")],
            swiftSettings: strict),
        .executableTarget(
            name: "fakemodem",
            dependencies: ["FakeModem", "SystemIO", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strict),
        .executableTarget(
            name: "dial-bench",
            dependencies: ["RAS", "Hayes", "FakeModem", "Serial", "SystemIO", .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/DialBench",
            swiftSettings: strict),
        .executableTarget(
            name: "daemon-bench",
            dependencies: ["SoakSupport", "RASService", "RAS", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Benchmarks/DaemonBench",
            swiftSettings: strict),
        .executableTarget(
            name: "datapath-bench",
            dependencies: ["RAS", "Hayes", "FakeModem", "Serial", "SystemIO", .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/DataPathBench",
            swiftSettings: strict),
        .executableTarget(
            name: "network-bench",
            dependencies: ["RAS", "Hayes", "FakeModem", "Serial", "SystemIO", .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/NetworkBench",
            swiftSettings: strict),
        // soak-bench and scale-bench: process helpers, /proc samples, transcript tails.
        .target(name: "SoakSupport", path: "Benchmarks/SoakSupport", swiftSettings: strict),
        .executableTarget(
            name: "soak-bench",
            dependencies: ["SoakSupport", "RASService", "RAS", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Benchmarks/SoakBench",
            swiftSettings: strict),
        .executableTarget(
            name: "scale-bench",
            dependencies: ["SoakSupport", "RASService", "RAS", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Benchmarks/ScaleBench",
            swiftSettings: strict),
        .executableTarget(
            name: "fakemodem-bench",
            dependencies: ["FakeModem", "Serial"],
            path: "Benchmarks/FakeModemBench",
            swiftSettings: strict),
        .target(
            name: "RASDaemon",
            dependencies: [
                "RASService", "RAS", "ModemDiscovery", "Hayes", "Serial", "SystemIO",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        // rasmand's Prometheus metrics: a dedicated registry fed by the connection manager's
        // observer and watch stream, sampled at scrape time, and the HTTP endpoint serving it.
        .target(
            name: "RASMetrics",
            dependencies: [
                "RASDaemon", "ModemDiscovery", "RAS", "SystemIO",
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .executableTarget(
            name: "rasmand",
            dependencies: [
                "RASMetrics", "RASDaemon", "ModemDiscovery", "RASService", "RAS", "Hayes", "Serial", "SystemIO",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .executableTarget(
            name: "rasdial",
            dependencies: [
                "RASService", "RAS", "Hayes", "SystemIO",
                // Not linked: built alongside, so that `swift run rasdial` finds the rasmand
                // it starts and the fakemodem its --demo runs next to it.
                "rasmand", "fakemodem",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .systemLibrary(name: "CUdev", pkgConfig: "libudev", providers: [.apt(["libudev-dev"])]),
        .target(
            name: "ModemDiscovery",
            dependencies: ["CUdev", "Serial", "SystemIO", "Hayes"],
            exclude: ["DISCOVERY.md"],
            swiftSettings: strict),
        // Discovery tests: the umockdev testbed (test-only C library), the harness the tests
        // run under umockdev's preload library, and the benchmark.
        .systemLibrary(
            name: "CUMockdev", path: "Tests/CUMockdev", pkgConfig: "umockdev-1.0",
            providers: [.apt(["libumockdev-dev", "umockdev"])]),
        .target(name: "UMockdevFixes", path: "Tests/UMockdevFixes"),
        .target(
            name: "DiscoveryTestbed",
            dependencies: ["CUMockdev", "ModemDiscovery", "FakeModem", "Serial"],
            path: "Tests/DiscoveryTestbed",
            swiftSettings: strict),
        .executableTarget(
            name: "discovery-test-harness",
            dependencies: [
                "DiscoveryTestbed", "UMockdevFixes", "ModemDiscovery", "Serial", "SystemIO", "TestSupport",
                "RASDaemon", "RASService", "RAS", "Hayes", .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/DiscoveryTestHarness",
            swiftSettings: strict),
        .executableTarget(
            name: "discovery-bench",
            dependencies: ["DiscoveryTestbed", "UMockdevFixes", "ModemDiscovery"],
            path: "Benchmarks/DiscoveryBench",
            swiftSettings: strict),
        // Fuzzing (DESIGN.md, "Fuzzing"): the targets as pure functions, shared by the libFuzzer
        // driver and FuzzTests; the driver is `swift-ras-fuzz` built with --sanitize fuzzer
        // -Xswiftc -DFUZZING (scripts/fuzz.sh), a replayer of saved inputs otherwise.
        .target(
            name: "FuzzTargets",
            dependencies: ["Hayes", "RAS", "RASService", "Serial"],
            path: "Fuzz/Targets",
            swiftSettings: strict),
        .executableTarget(
            name: "swift-ras-fuzz",
            dependencies: ["FuzzTargets"],
            path: "Fuzz/Main",
            swiftSettings: strict),
        .target(name: "TestSupport", dependencies: ["Hayes"], path: "Tests/TestSupport", swiftSettings: strict),
        .testTarget(
            name: "SystemIOTests",
            dependencies: ["SystemIO", "TestSupport", .product(name: "SystemPackage", package: "swift-system")],
            swiftSettings: strict),
        .testTarget(
            name: "SerialTests",
            dependencies: ["Serial", "SystemIO", "TestSupport", .product(name: "SystemPackage", package: "swift-system")],
            swiftSettings: strict),
        .testTarget(name: "HayesTests", dependencies: ["Hayes", "Serial", "FakeModem", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "RASTests", dependencies: ["RAS", "Hayes", "Serial", "SystemIO", "FakeModem", "TestSupport"],
            exclude: ["Fixtures"], swiftSettings: strict),
        .testTarget(name: "FakeModemTests", dependencies: ["FakeModem", "Serial", "SystemIO", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "RASServiceTests",
            dependencies: [
                "RASService", "RAS", "Hayes", "FakeModem", "Serial", "SystemIO", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .testTarget(name: "FuzzTests", dependencies: ["FuzzTargets", "RAS", "Hayes", "Serial"], swiftSettings: strict),
        .testTarget(
            name: "RASMetricsTests",
            dependencies: ["RASMetrics", "RAS", .product(name: "Prometheus", package: "swift-prometheus")],
            swiftSettings: strict),
        .testTarget(
            name: "ModemDiscoveryTests",
            dependencies: [
                "ModemDiscovery", "DiscoveryTestbed", "FakeModem", "Hayes", "Serial", "TestSupport", "RAS", "RASService",
            ],
            swiftSettings: strict),
    ]
)
