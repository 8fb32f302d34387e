import nx from '@nx/eslint-plugin';

// Architecture of DESIGN.md, enforced: apps -> libs, and libs only along the drawn arrows.
export default [
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  { ignores: ['**/dist', '**/node_modules', '**/tmp', '**/.nx', 'data/**', 'models/**', 'csv/**'] },
  {
    files: ['**/*.ts', '**/*.js', '**/*.mjs', '**/*.cjs'],
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: true,
          // specs import the synthetic face generator, a non-buildable testing project; non-spec code may not
          // (no-restricted-imports below), so builds never depend on it
          allow: ['@agekit/synth'],
          depConstraints: [
            // type:testing = the synthetic face generator (@agekit/synth): specs may use it, production code may not (rule below)
            { sourceTag: 'type:lib', notDependOnLibsWithTags: ['type:app', 'type:tool'] },
            { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:lib', 'type:testing'] },
            { sourceTag: 'type:tool', onlyDependOnLibsWithTags: ['type:lib', 'type:testing'] },
            { sourceTag: 'type:testing', onlyDependOnLibsWithTags: ['scope:dataset'] },
            { sourceTag: 'scope:dataset', onlyDependOnLibsWithTags: ['scope:none'] },
            { sourceTag: 'scope:plot', onlyDependOnLibsWithTags: ['scope:dataset', 'scope:synth'] },
            { sourceTag: 'scope:quality', onlyDependOnLibsWithTags: ['scope:dataset', 'scope:synth'] },
            { sourceTag: 'scope:enhance', onlyDependOnLibsWithTags: ['scope:dataset', 'scope:quality', 'scope:synth'] },
            { sourceTag: 'scope:resample', onlyDependOnLibsWithTags: ['scope:dataset', 'scope:quality', 'scope:synth'] },
            { sourceTag: 'scope:runtime', onlyDependOnLibsWithTags: ['scope:dataset', 'scope:synth'] },
            { sourceTag: 'scope:model', onlyDependOnLibsWithTags: ['scope:runtime', 'scope:dataset', 'scope:synth'] },
            { sourceTag: 'scope:transfer', onlyDependOnLibsWithTags: ['scope:model', 'scope:runtime', 'scope:dataset', 'scope:synth'] },
            { sourceTag: 'scope:onnx', onlyDependOnLibsWithTags: ['scope:dataset', 'scope:model', 'scope:synth'] },
            { sourceTag: 'scope:face', onlyDependOnLibsWithTags: ['scope:runtime', 'scope:dataset', 'scope:synth'] },
          ],
        },
      ],
    },
  },
  {
    // each publishable lib's package.json must declare what its code imports (and nothing it does not)
    files: ['libs/*/package.json'],
    languageOptions: { parser: await import('jsonc-eslint-parser') },
    rules: {
      '@nx/dependency-checks': [
        'error',
        {
          buildTargets: ['build'],
          checkMissingDependencies: true,
          checkObsoleteDependencies: true,
          checkVersionMismatches: false,
          ignoredFiles: ['{projectRoot}/jest.config.js', '{projectRoot}/**/*.spec.ts'],
        },
      ],
    },
  },
  {
    // the synthetic generator is test tooling: library and app code outside specs must not import it
    files: ['libs/*/src/**/*.ts', 'apps/*/src/**/*.ts'],
    ignores: ['**/*.spec.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: [{ name: '@agekit/synth', message: 'test tooling: import it from *.spec.ts only' }] }],
    },
  },
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
];
