/** The endpoints of a topology's micro service. */
export const SERVICE_ENDPOINTS = ['stats', 'describe', 'dead-letters', 'dead-letter', 'replay'] as const;

/** The subject of a topology service endpoint: `sluice.svc.<topology>.<endpoint>`. */
export const serviceSubject = (topology: string, endpoint: (typeof SERVICE_ENDPOINTS)[number]): string => `sluice.svc.${topology}.${endpoint}`;
