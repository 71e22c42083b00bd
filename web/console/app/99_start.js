render();
