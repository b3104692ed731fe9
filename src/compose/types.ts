/** The normalised compose model, as `docker compose config --format json` prints it. */
export interface ComposeProject {
  name?: string;
  services: Record<string, ComposeService>;
  networks?: Record<string, unknown>;
  volumes?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface ComposePort {
  target: number;
  published?: string;
  host_ip?: string;
  protocol?: string;
  mode?: string;
}

export interface ComposeVolumeMount {
  type: 'volume' | 'bind' | 'tmpfs' | string;
  source?: string;
  target: string;
  read_only?: boolean;
}

export interface ComposeHealthcheck {
  test?: string[];
  interval?: string;
  timeout?: string;
  retries?: number;
  start_period?: string;
  start_interval?: string;
  disable?: boolean;
}

export interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile?: string; args?: Record<string, string | null>; target?: string };
  environment?: Record<string, string | null>;
  env_file?: unknown;
  ports?: ComposePort[];
  volumes?: ComposeVolumeMount[];
  healthcheck?: ComposeHealthcheck;
  depends_on?: Record<string, { condition: string; required?: boolean; restart?: boolean }>;
  stop_grace_period?: string;
  stop_signal?: string;
  /** compose's older replica count; `docker compose config` keeps it beside deploy.replicas (they must agree). */
  scale?: number;
  deploy?: { replicas?: number; [key: string]: unknown };
  labels?: Record<string, string>;
  extra_hosts?: unknown;
  container_name?: string;
  network_mode?: string;
  networks?: Record<string, unknown> | string[];
  profiles?: string[];
  pull_policy?: string;
  secrets?: unknown[];
  configs?: unknown[];
  [key: string]: unknown;
}

/** The compose file for one host: only its services, images pinned, secrets moved to env files. */
export interface HostCompose {
  /** The compose document to render (deterministically) and upload. */
  document: ComposeProject;
  /** Service → KEY=value pairs for its 0600 env file; values that hold secrets live only here. */
  secretEnv: Record<string, Record<string, string>>;
  /** Service → hash of its desired state (spec + secret env); stored as the `stagecraft.spec-hash` label. */
  specHashes: Record<string, string>;
  /**
   * Service → its `stagecraft.files-hash` label (an HMAC over the project files it mounts), for the
   * services that mount any: a release records them so a rollback can tell whether today's files are
   * the ones it ran.
   */
  filesHashes: Record<string, string>;
  /**
   * Paths relative to the project folder that the document references as `./path` (bind-mount
   * sources, secret/config files under the project): upload them beside the compose file.
   */
  projectFiles: string[];
  /** Where each project file or folder is used: a service's bind mount, or a top-level secret/config. */
  projectMounts: { path: string; service: string; target: string; secret: boolean }[];
  /** Files the environment's values fill (compose secrets with `environment:`), relative path → value: 0600. */
  secretFiles: Record<string, string>;
}
