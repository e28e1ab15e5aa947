import Foundation
import RAS
import Serial

/// The daemon reads phonebooks that clients name. Running as root (or another user), it must
/// not read a file for a client that could not read it itself — a phonebook error quotes a
/// line of the file, which would leak, say, `/etc/shadow`.
enum PhonebookAccess {
    /// Checks that `path` is absolute and that `peer` may read it: the file's owner, group or
    /// other read bit (and the search bit of every folder above it) must let the peer's uid or
    /// primary gid in. The supplementary groups of a peer are not known (`SO_PEERCRED` gives
    /// one gid), so a file readable only through one of them is refused. A peer that is root
    /// or the daemon's own user is not checked. A file that does not exist passes (loading it
    /// then fails with 621 as usual).
    /// - Throws: 621 ``RasError/cannotOpenPhonebook``.
    static func check(_ path: String, peer: PeerCredentials, daemonUID: UInt32) throws(RasError) {
        guard path.hasPrefix("/") else {
            throw RasError.cannotOpenPhonebook.with(detail: "'\(path)': the daemon needs an absolute phonebook path")
        }
        guard peer.uid != 0, peer.uid != daemonUID else { return }
        var folders: [String] = []
        var folder = (path as NSString).deletingLastPathComponent
        while !folder.isEmpty {
            folders.append(folder)
            if folder == "/" { break }
            folder = (folder as NSString).deletingLastPathComponent
        }
        for folder in folders where !allows(folder, peer: peer, ownerBit: 0o100, groupBit: 0o010, otherBit: 0o001) {
            throw denied(path, peer: peer)
        }
        guard FileManager.default.fileExists(atPath: path) else { return }
        guard allows(path, peer: peer, ownerBit: 0o400, groupBit: 0o040, otherBit: 0o004) else {
            throw denied(path, peer: peer)
        }
    }

    private static func allows(_ path: String, peer: PeerCredentials, ownerBit: Int, groupBit: Int, otherBit: Int) -> Bool {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
              let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue,
              let owner = (attributes[.ownerAccountID] as? NSNumber)?.uint32Value,
              let group = (attributes[.groupOwnerAccountID] as? NSNumber)?.uint32Value else {
            // Cannot be inspected (gone meanwhile): let the load report it.
            return true
        }
        if owner == peer.uid { return mode & ownerBit != 0 }
        if group == peer.gid { return mode & groupBit != 0 }
        return mode & otherBit != 0
    }

    private static func denied(_ path: String, peer: PeerCredentials) -> RasError {
        RasError.cannotOpenPhonebook.with(detail: "\(path): permission denied (uid \(peer.uid) cannot read it)")
    }
}
