export const PHASES = ['build', 'push', 'migrate_pre', 'rollout', 'migrate_post', 'finalize'] as const;
export type PhaseName = (typeof PHASES)[number];
export type PhaseStatus = 'pending' | 'running' | 'completed' | 'failed' | 'skipped';

/**
 * One release in `.stagecraft/releases.json`: the original design's record (§4.3) plus what a
 * rollback and an audit need. Never holds a secret.
 */
export interface ReleaseRecord {
  /** `rel-YYYYMMDD-HHMMSSmmm` (UTC), lexicographic = chronological. */
  id: string;
  environment: string;
  version: string;
  commit_sha: string;
  /** RFC 3339 creation time. */
  timestamp: string;
  phases: Record<PhaseName, PhaseStatus>;
  previous_id?: string;
  /** remove (`stagecraft remove`: the app taken off its hosts, no images, no hosts); deploy; rollback (reuses an earlier release); restart (`secrets sync`: the current release's images and files, with new secret env files). */
  kind: 'deploy' | 'rollback' | 'restart' | 'remove';
  /**
   * A release limited by `--hosts` or `--services` (an automatic rollback: the hosts that switched):
   * what it covered. Absent: the whole environment.
   */
  scope?: { hosts?: string[]; services?: string[] };
  /** For a rollback: the release whose images and compose files it reuses. */
  rollback_of?: string;
  /** For a restart: the release whose images and files it runs again (with new secret env files). */
  restart_of?: string;
  /** Service → image reference, pinned by digest where the registry gave one. */
  images: Record<string, string>;
  /**
   * Host → sha256 of the compose file rendered for it, the services it runs, and each service's
   * `stagecraft.files-hash` label (an HMAC over the project files it mounts) where it mounts any.
   */
  hosts: Record<
    string,
    { compose_sha256: string; services: string[]; files_hashes?: Record<string, string> }
  >;
  /**
   * Who ran it, where; pid (in PID namespace pid_namespace, where there is one): the deploying process
   * on `machine`, so a release it left running is found.
   */
  deployer: { user: string; machine: string; ci: boolean; pid?: number; pid_namespace?: string };
  duration_ms?: number;
  /** Database → migration ids applied by this release. */
  migrations?: Record<string, string[]>;
  message?: string;
  /** Ids of the plan steps that ran, in order, with their outcome. */
  steps?: { id: string; status: 'completed' | 'failed' | 'skipped' | 'unchanged' }[];
  error?: string;
}

export interface LockInfo {
  holder: string;
  machine: string;
  acquired_at: string;
  expires_at: string;
  version: string;
  message: string;
  /** Process id of the holder on `machine`: a lock whose process is gone on this machine can be broken. */
  pid?: number;
  /** The PID namespace `pid` lives in (process-gone.ts currentPidNamespace); absent where there is none. */
  pid_namespace?: string;
  /**
   * The release the holder runs (deploy, rollback, restart): a deploy that takes the lock over from a
   * holder that is gone records that release as interrupted.
   */
  release?: string;
  /** Random id of this lease: renewals and the release name it, so no other holder's lock is touched. */
  lease_id?: string;
  /** expires_at as epoch seconds of the lock host's clock (what every expiry check compares). */
  expires_epoch?: number;
}
