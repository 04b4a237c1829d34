// The HTTP integration suite of api.test.ts, unchanged, with PostgreSQL + Redis behind the server.
// The variable must be set before the suite's module runs, hence the dynamic import.
process.env['FRONTDESK_TEST_BACKEND'] = 'postgres+redis';
await import('./api.test.js');
