const status = document.querySelector('#status');
fetch(`${import.meta.env?.VITE_API_URL ?? ''}/api/status`)
  .then((response) => response.json())
  .then((body) => {
    status.textContent = `API ${body.version} is up`;
  })
  .catch(() => {
    status.textContent = 'API unreachable';
  });
