export * from './faces';
export * from './generate';
export { maxRelativeDifference, type Values } from './compare';
// HTTP test tooling for the age server (@agekit/face createAgeServer): a client, the fuzz table, a load runner
export { listen, rawExchange, request, serverPort, type ClientRequest, type ClientResponse } from './http-client';
export { fuzzCases, garbage, pngClaiming, pngFile, type FuzzCase } from './fuzz-cases';
export { formatLoad, percentile, runLoad, type LoadOptions, type LoadReport } from './load';
