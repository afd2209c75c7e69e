// The simulator's API key when CHANGENOW_API_KEY is not set: `npm start` and the tests use it so the
// connector sends a key exactly as it would to ChangeNow. It opens nothing but the local simulator.
export const localChangeNowApiKey = 'local-changenow-simulator-api-key';
