// swift-tools-version:6.0
import PackageDescription

// No package dependencies: the toolchain plus Debian's C libraries only.
let package = Package(
    name: "cdp",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "cdp-devbroker", targets: ["DevBroker"]),
        .executable(name: "cdp", targets: ["CLI"]),
        .executable(name: "cdp-collector", targets: ["CollectorDaemon"]),
        .executable(name: "cdp-resolver", targets: ["ResolverDaemon"]),
        .executable(name: "cdp-segmenter", targets: ["SegmenterDaemon"]),
        .executable(name: "cdp-exporter", targets: ["ExporterDaemon"]),
    ],
    targets: [
        // librdkafka from Debian (apt-get install librdkafka-dev). Only Shared/Log/RDKafka/ imports it.
        .systemLibrary(
            name: "CRdKafka",
            path: "Shared/CRdKafka",
            pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev"]), .brew(["librdkafka"])]
        ),
        // OpenSSL's libcrypto (SHA-256, HMAC, random tokens); librdkafka already pulls it in.
        .systemLibrary(
            name: "CCrypto",
            path: "Shared/CCrypto",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"]), .brew(["openssl@3"])]
        ),
        // glibc's <malloc.h> (mallopt), nothing to link.
        .systemLibrary(name: "CMalloc", path: "Shared/CMalloc"),
        .target(name: "Crypto", dependencies: ["CCrypto"], path: "Shared/Crypto"),
        .target(name: "Runtime", dependencies: ["CMalloc"], path: "Shared/Runtime"),
        .target(name: "Model", dependencies: ["Runtime", "Crypto"], path: "Shared/Model"),
        .target(name: "QL", dependencies: ["Model", "Crypto"], path: "Shared/QL"),
        .target(name: "Log", dependencies: ["CRdKafka", "Runtime", "Model"], path: "Shared/Log"),
        .target(name: "HTTP", dependencies: ["Runtime"], path: "Shared/HTTP"),
        // What every daemon shares: the cdp.config view and authentication.
        .target(name: "Pipeline", dependencies: ["Log", "Model", "Runtime", "HTTP", "Crypto"], path: "Shared/Pipeline"),

        .target(name: "Collector", dependencies: ["Log", "Runtime", "Model", "HTTP", "Crypto", "Pipeline", "IdentityCore", "QL", "SegmentCore", "ExportCore"], path: "Services/Collector", exclude: ["Main"]),
        .executableTarget(name: "CollectorDaemon", dependencies: ["Collector", "ExportCore", "Runtime", "Pipeline", "HTTP"], path: "Services/Collector/Main"),
        // The resolver's pure core (identity graph, schema, mapping, merge operators), also used by
        // the collector (schema validation and dry runs) and `cdp resolve`.
        .target(name: "IdentityCore", dependencies: ["QL", "Model", "Crypto", "Runtime"], path: "Services/Resolver/Core"),
        // The segmenter's pure core: audiences, memberships, the flip queue.
        .target(name: "SegmentCore", dependencies: ["QL", "Runtime"], path: "Services/Segmenter/Core"),
        .target(name: "Segmenter", dependencies: ["SegmentCore", "QL", "Model", "Runtime", "Log", "HTTP", "Pipeline"], path: "Services/Segmenter", exclude: ["Main", "Core"]),
        .executableTarget(name: "SegmenterDaemon", dependencies: ["Segmenter", "Runtime", "Log", "Model", "HTTP", "Pipeline"], path: "Services/Segmenter/Main"),
        // The exporter's pure core: job definitions, delivery items, batch formats, retries.
        .target(name: "ExportCore", dependencies: ["Model", "Runtime", "Crypto"], path: "Services/Exporter/Core"),
        .target(name: "Exporter", dependencies: ["ExportCore", "Model", "Runtime", "Log", "HTTP", "Pipeline"], path: "Services/Exporter", exclude: ["Main", "Core"]),
        .executableTarget(name: "ExporterDaemon", dependencies: ["Exporter", "ExportCore", "Runtime", "Log", "Model", "HTTP", "Pipeline"], path: "Services/Exporter/Main"),
        .target(name: "Resolver", dependencies: ["IdentityCore", "QL", "Model", "Crypto", "Runtime", "Log", "HTTP", "Pipeline"], path: "Services/Resolver", exclude: ["Main", "Core"]),
        .executableTarget(name: "ResolverDaemon", dependencies: ["Resolver", "IdentityCore", "Runtime", "Log", "Model", "HTTP", "Pipeline"], path: "Services/Resolver/Main"),
        .executableTarget(name: "DevBroker", dependencies: ["Log", "Runtime", "Model", "HTTP"], path: "Services/DevBroker"),
        .executableTarget(name: "CLI", dependencies: ["Log", "Runtime", "Model", "HTTP", "QL", "IdentityCore"], path: "Services/CLI"),

        .target(name: "TestSupport", dependencies: ["Runtime", "HTTP"], path: "Tests/TestSupport"),
        .testTarget(name: "RuntimeTests", dependencies: ["Runtime", "TestSupport"], path: "Tests/RuntimeTests"),
        .testTarget(name: "HTTPTests", dependencies: ["HTTP", "Runtime", "TestSupport"], path: "Tests/HTTPTests"),
        .testTarget(name: "LogTests", dependencies: ["Log", "Model", "Runtime", "TestSupport"], path: "Tests/LogTests"),
        .testTarget(name: "ModelTests", dependencies: ["Model", "Crypto", "Runtime", "TestSupport"], path: "Tests/ModelTests"),
        .testTarget(name: "CollectorTests", dependencies: ["Collector", "Log", "Model", "Runtime", "HTTP", "Crypto", "TestSupport", "Pipeline", "IdentityCore", "SegmentCore", "ExportCore"], path: "Tests/CollectorTests"),
        .testTarget(name: "QLTests", dependencies: ["QL", "Runtime", "TestSupport"], path: "Tests/QLTests"),
        .testTarget(name: "SegmenterTests", dependencies: ["SegmentCore", "Segmenter", "QL", "Runtime", "Log", "Model", "HTTP", "Pipeline", "TestSupport"], path: "Tests/SegmenterTests"),
        .testTarget(name: "ExporterTests", dependencies: ["ExportCore", "Exporter", "Model", "Runtime", "Log", "HTTP", "Pipeline", "Crypto", "TestSupport"], path: "Tests/ExporterTests"),
        .testTarget(name: "ResolverTests", dependencies: ["Resolver", "IdentityCore", "QL", "Model", "Runtime", "Log", "HTTP", "Pipeline", "TestSupport", "SegmentCore"], path: "Tests/ResolverTests"),
        .testTarget(name: "EndToEndTests", dependencies: ["Log", "Model", "Runtime", "HTTP", "TestSupport"], path: "Tests/EndToEndTests"),
    ],
    swiftLanguageModes: [.v6]
)
