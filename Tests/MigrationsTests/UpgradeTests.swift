import Domain
import Foundation
import Migrations
import PostgresClient
import TestSupport
import XCTest

/// A database made by an earlier release, brought up to date by this build's migrator, must be the
/// database this build makes from nothing; and the functions that moved to schema/functions/ must be
/// the ones the release made, but for the changes meant.
final class UpgradeTests: XCTestCase {
    /// Release 0.16's schema/ (`git show f7ee411:schema/…`): numbered files only, each function
    /// created in the migration that first needed it and redefined in later ones. Kept as an archive
    /// (Fixtures/README.md): a frozen release, not SQL to maintain beside schema/.
    static let release016 = TestDatabase.repositoryRoot.appendingPathComponent("Tests/MigrationsTests/Fixtures/release-0.16.tar.gz")

    /// Release 0.16's migrations, read from its archive unpacked in a folder of its own.
    static func releaseMigrations() throws -> [Migration] {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("consultd-release-0.16-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let unpacked = try TestDatabase.run("/usr/bin/env", ["tar", "-xzf", release016.path, "-C", folder.path])
        guard unpacked.status == 0 else {
            throw TestEnvironmentError(description: "tar could not unpack \(release016.path): \(unpacked.stderr)")
        }
        return try Migrator.numberedFiles(in: folder.appendingPathComponent("release-0.16"))
    }

    /// Makes a database with release 0.16's migrations, as that release's migrator did.
    func releaseDatabase() throws -> Connection {
        let connection = try Connection(try TestDatabase.fresh(migrated: false))
        let old = try Self.releaseMigrations()
        XCTAssertEqual(old.map(\.version), Array(1...10))
        try Migrator(migrations: old).migrate(connection)
        return connection
    }

    func testAReleaseDatabaseMigratedIsAFreshDatabase() throws {
        let fresh = try Connection(try TestDatabase.fresh())
        let expected = try SchemaDefinition.read(fresh)

        let upgraded = try releaseDatabase()
        XCTAssertEqual(try Migrator.currentVersion(upgraded), 10)
        let applied = try Migrator(directory: TestDatabase.schemaDirectory).migrate(upgraded)
        XCTAssertEqual(applied.map(\.version), Array(11...Schema.requiredVersion))
        let definition = try SchemaDefinition.read(upgraded)
        XCTAssertEqual(definition, expected, SchemaDefinition.difference(definition, expected))
        // The comparison sees functions, triggers, views and privileges (else it would prove little).
        for needle in [
            "function consult.append_batch_sealed(", "trigger CREATE TRIGGER events_check_positions", "view analytics.consultations",
            "may consult_app execute consult.lock_log() true", "may consult_analyst execute consult.append(", "may public select consult.events false",
        ] {
            XCTAssertTrue(definition.contains { $0.hasPrefix(needle) }, needle)
        }
    }

    /// The move changed no function but the two that now read consult.event_types, and added that
    /// one; triggers and every privilege are as the release made them.
    func testFreshFunctionsAreTheReleasesButForTheEventTypes() throws {
        let release = try releaseDatabase()
        let fresh = try Connection(try TestDatabase.fresh())
        let before = try SchemaDefinition.functions(release)
        let after = try SchemaDefinition.functions(fresh)
        let rewritten: Set = [
            "consult.notify_registry()",
            "consult.append_batch_sealed(uuid[],text[],text[],jsonb[],jsonb[],bigint[],text[],text[],text[],text[],uuid[],text[],bigint)",
        ]
        XCTAssertEqual(Set(after.keys), Set(before.keys).union(["consult.event_types(text[])"]))
        for (signature, definition) in before {
            if rewritten.contains(signature) {
                XCTAssertNotEqual(after[signature], definition, signature)
                XCTAssertTrue(after[signature]?.contains("consult.event_types(") == true, signature)
            } else {
                XCTAssertEqual(after[signature], definition, signature)
            }
        }
        let unchanged = { (lines: [String]) in
            lines.filter { $0.hasPrefix("trigger ") || $0.hasPrefix("may ") || $0.hasPrefix("relation ") || $0.hasPrefix("index ") }
                .filter { !$0.contains("consult.event_types(text[])") }
                // Migration 012 (C2SP checkpoints) adds these two tables, their index, triggers and grants.
                .filter { !$0.contains("log_origin") && !$0.contains("cosignatures") }
        }
        let released = unchanged(try SchemaDefinition.read(release))
        let made = unchanged(try SchemaDefinition.read(fresh))
        XCTAssertEqual(made, released, SchemaDefinition.difference(made, released))
    }

    func testMigratingTwiceIsANoOp() throws {
        let connection = try Connection(try TestDatabase.fresh(migrated: false))
        let migrator = try Migrator(directory: TestDatabase.schemaDirectory)
        XCTAssertEqual(try migrator.migrate(connection).map(\.version), Array(1...Schema.requiredVersion))
        let once = try SchemaDefinition.read(connection)
        XCTAssertEqual(try migrator.migrate(connection), [])
        let twice = try SchemaDefinition.read(connection)
        XCTAssertEqual(twice, once, SchemaDefinition.difference(twice, once))
    }

    /// Functions and their privileges are applied on every run: a function changed by hand, or a
    /// privilege taken away, is as schema/ says after the next migrate.
    func testFunctionsAndPrivilegesAreAppliedOnEveryRun() throws {
        let connection = try Connection(try TestDatabase.fresh())
        let expected = try SchemaDefinition.read(connection)
        try connection.executeScript(
            """
            CREATE OR REPLACE FUNCTION consult.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
            REVOKE EXECUTE ON FUNCTION consult.append(uuid, text, text, jsonb, jsonb, bigint, text) FROM consult_app;
            GRANT EXECUTE ON FUNCTION consult.check_positions() TO PUBLIC;
            """)
        XCTAssertNotEqual(try SchemaDefinition.read(connection), expected)
        XCTAssertEqual(try Migrator(directory: TestDatabase.schemaDirectory).migrate(connection), [])
        let restored = try SchemaDefinition.read(connection)
        XCTAssertEqual(restored, expected, SchemaDefinition.difference(restored, expected))
    }

    func testAFailingFunctionFileLeavesNothingBehind() throws {
        let connection = try Connection(try TestDatabase.fresh())
        let before = try SchemaDefinition.read(connection)
        let loaded = try Migrator(directory: TestDatabase.schemaDirectory)
        var migrations = loaded.migrations
        migrations.append(Migration(version: migrations.count + 1, name: "more", sql: "CREATE TABLE consult.more (x int);"))
        let broken = SchemaFile(
            name: "functions/zz_broken.sql", sql: "CREATE OR REPLACE FUNCTION consult.zz() RETURNS int LANGUAGE sql AS $$ SELECT nope $$;")
        let migrator = Migrator(migrations: migrations, functions: loaded.functions + [broken], privileges: loaded.privileges)
        XCTAssertThrowsError(try migrator.migrate(connection)) { error in
            XCTAssertTrue("\(error)".hasPrefix("schema file functions/zz_broken.sql failed, nothing of this run applied"), "\(error)")
        }
        XCTAssertEqual(try SchemaDefinition.read(connection), before)
    }

    func testTheFolderOfEveryRunFilesMustExist() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try "SELECT 1;".write(to: folder.appendingPathComponent("001_a.sql"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try Migrator(directory: folder)) { error in
            XCTAssertEqual("\(error)", "schema folder \(folder.path)/functions is missing (it holds files applied on every migrate)")
        }
        for name in ["functions", "privileges"] {
            try FileManager.default.createDirectory(at: folder.appendingPathComponent(name), withIntermediateDirectories: true)
        }
        for name in ["b.sql", "a.sql", "B.sql", "notes.md"] {
            try "SELECT 1;".write(to: folder.appendingPathComponent("functions/\(name)"), atomically: true, encoding: .utf8)
        }
        let migrator = try Migrator(directory: folder)
        XCTAssertEqual(migrator.functions.map(\.name), ["functions/B.sql", "functions/a.sql", "functions/b.sql"])
        XCTAssertEqual(migrator.privileges, [])
    }
}
