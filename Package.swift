// swift-tools-version:6.0
import PackageDescription

// Dependency arrows point one way, towards the core:
//   consultd, consultctl -> Server -> ConnectionCore (pure) -> LineProtocol (pure) -> JSON (pure)
//                        -> Server, Metrics, Projections -> EventLog -> PostgresClient -> CLibPQ
//                                                                  -> Domain (pure) -> JSON (pure)
//                        -> Trust -> Merkle (pure), PostgresClient
//   consultctl           -> Witness (tlog-witness: the pure decision, its state file, its HTTP server) -> Transparency, Sockets, TLS, Locking
//                        -> Transparency (pure: C2SP signed notes, checkpoints, cosignatures, tlog-proof, tiles) -> Merkle (pure)
//                        -> Server, consultctl -> Vault -> EventLog, Domain
//                        -> Migrations -> PostgresClient
//   Server, LineClient   -> TLS -> CLibSSL (OpenSSL's libssl)
//   consultd, Server     -> Observability (Prometheus text format, the HTTP endpoint, sd_notify) -> PostgresClient
//   Server, Observability -> Sockets (a listening TCP socket)
//   Server, Vault, consultd -> Locking (a value behind a lock)
//   (Prometheus's text format is written here: swift-prometheus pulls in swift-metrics, whose target
//   `Metrics` clashes with ours, and SwiftPM refuses two targets of one name in a package graph.)
//   consultd, consultctl -> Version -> CVersion (the commit, given to the build as a C macro)
let package = Package(
    name: "consultd",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "consultd", targets: ["consultd"]),
        .executable(name: "consultctl", targets: ["consultctl"]),
        .executable(name: "consult-bench", targets: ["consult-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        .systemLibrary(
            name: "CLibSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        .target(name: "TLS", dependencies: ["CLibSSL"]),
        .target(name: "CVersion"),
        .target(name: "Version", dependencies: ["CVersion"]),
        .target(
            name: "Observability",
            dependencies: ["PostgresClient", "Sockets"]),
        .target(name: "Sockets"),
        .target(name: "Locking"),
        .target(name: "PostgresClient", dependencies: ["CLibPQ"]),
        .target(name: "JSON"),
        .target(name: "Merkle", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        .target(
            name: "Trust",
            dependencies: [
                "Merkle", "JSON", "PostgresClient", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .target(name: "Transparency", dependencies: ["Merkle", .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "Witness", dependencies: ["Transparency", "Merkle", "Sockets", "TLS", "Locking", .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "EventLog", dependencies: ["PostgresClient", "Domain", "JSON"]),
        .target(
            name: "Vault",
            dependencies: ["EventLog", "Domain", "JSON", "PostgresClient", "Locking", .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "Migrations", dependencies: ["PostgresClient"]),
        .target(name: "LineProtocol", dependencies: ["JSON"]),
        .target(name: "ConnectionCore", dependencies: ["LineProtocol", "JSON"]),
        .target(name: "LineClient", dependencies: ["TLS"]),
        .target(name: "Domain", dependencies: ["JSON", .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "Metrics", dependencies: ["Domain", "EventLog", "JSON"]),
        .target(
            name: "Projections",
            dependencies: ["Metrics", "Domain", "EventLog", "PostgresClient", "JSON", "Locking", .product(name: "Logging", package: "swift-log")]),
        .target(
            name: "Server",
            dependencies: [
                "LineProtocol", "ConnectionCore", "Domain", "EventLog", "PostgresClient", "JSON", "Trust", "Merkle", "Vault", "TLS",
                "Observability", "Sockets", "Locking",
                .product(name: "Logging", package: "swift-log"),
            ]),
        .executableTarget(
            name: "consultd",
            dependencies: [
                "PostgresClient", "Migrations", "Server", "Projections", "Metrics", "Trust", "JSON", "Vault", "Locking", "Observability", "Version",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "consultctl",
            dependencies: [
                "PostgresClient", "EventLog", "Migrations", "LineClient", "LineProtocol", "Domain", "Metrics", "Projections", "JSON",
                "Trust", "Merkle", "Vault", "Version", "Transparency", "Witness",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "consult-bench",
            dependencies: [
                "PostgresClient", "EventLog", "Migrations", "Domain", "Metrics", "Projections", "LineClient", "LineProtocol",
                "Server", "JSON", "Trust", "Vault", "Locking",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        .testTarget(name: "PostgresClientTests", dependencies: ["PostgresClient", "TestSupport"]),
        .testTarget(name: "EventLogTests", dependencies: ["EventLog", "Migrations", "TestSupport"]),
        .testTarget(name: "MigrationsTests", dependencies: ["Migrations", "TestSupport"]),
        .testTarget(
            name: "DaemonTests",
            dependencies: ["TestSupport", "Domain", "EventLog", "LineProtocol", "Metrics", "Projections", "PostgresClient", "JSON", "Trust", "Merkle", "Vault",
                "TLS", "Version", "Observability", .product(name: "Crypto", package: "swift-crypto"),
            ]),
        .testTarget(name: "LineProtocolTests", dependencies: ["LineProtocol", "JSON"]),
        .testTarget(name: "MerkleTests", dependencies: ["Merkle"]),
        .testTarget(name: "TransparencyTests", dependencies: ["Transparency", "Merkle", .product(name: "Crypto", package: "swift-crypto")]),
        .testTarget(name: "WitnessTests", dependencies: ["Witness", "Transparency", "Merkle", "TestSupport"]),
        .testTarget(name: "ObservabilityTests", dependencies: ["Observability"]),
        .testTarget(
            name: "VaultTests", dependencies: ["Vault", "Domain", "EventLog", "JSON", .product(name: "Crypto", package: "swift-crypto")]),
        .testTarget(name: "TLSConnectionTests", dependencies: ["TLS", "TestSupport"]),
        .testTarget(name: "ConnectionCoreTests", dependencies: ["ConnectionCore", "LineProtocol", "JSON", "Domain"]),
        .testTarget(name: "MetricsTests", dependencies: ["Metrics", "Domain", "EventLog", "JSON", "PostgresClient"]),
        .testTarget(name: "DomainTests", dependencies: ["Domain", "EventLog", "JSON", "PostgresClient"]),
        .target(name: "TestSupport", dependencies: ["PostgresClient", "Migrations", "LineClient", "Server", "Locking"], path: "Tests/TestSupport"),
    ],
    swiftLanguageModes: [.v6]
)
