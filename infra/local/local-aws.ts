/** Credentials and region the emulators accept; they validate neither. (Kept apart so clients need not load the emulators.) */
export const LOCAL_AWS = {
  region: "us-east-1",
  credentials: { accessKeyId: "local", secretAccessKey: "local" },
};
