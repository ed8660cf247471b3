import Database from "better-sqlite3";

/**
 * Claims a store file for this process: one process owns it, since the store keeps each user's
 * head seq in memory. The claim is an exclusive lock held on a small sidecar database
 * (`<path>-owner`) for as long as the returned connection is open, so the store's own file
 * stays open to a second connection of this process (the checkpoint thread).
 */
export function claimFile(path: string, waitMs = 2000): Database.Database {
  const owner = new Database(`${path}-owner`, { timeout: waitMs });
  try {
    owner.pragma("locking_mode = EXCLUSIVE");
    // In exclusive locking mode the first write takes the file's lock and keeps it until close.
    owner.exec("CREATE TABLE IF NOT EXISTS owner (pid INTEGER NOT NULL)");
    owner.exec(`DELETE FROM owner; INSERT INTO owner (pid) VALUES (${process.pid})`);
    return owner;
  } catch (err) {
    owner.close();
    if ((err as { code?: string }).code === "SQLITE_BUSY") {
      throw new Error(`Another duet process is using ${path} (it holds ${path}-owner).`);
    }
    throw err;
  }
}
