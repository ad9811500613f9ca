// A plugin tab: asks this plugin's hook through the host's hub, and lists the news events
// the hub delivers. Runs sandboxed; everything goes through `connect` (widget-api.js).

const answer = document.getElementById('answer');

document.getElementById('ask').addEventListener('submit', async (event) => {
  event.preventDefault();
  const who = document.getElementById('who').value;
  answer.textContent = 'Asking…';
  try {
    const replies = await connect.publish({ topic: 'studio.status.ask', data: { who } });
    const reply = replies.find((r) => r && r.message);
    answer.textContent = reply ? reply.message : 'Nobody answered.';
    answer.dataset.answered = reply ? 'true' : 'false';
  } catch (error) {
    answer.textContent = `Could not ask: ${error.message}`;
  }
});

connect.subscribe('topic=studio.status.news', (news) => {
  const item = document.createElement('li');
  item.textContent = (news.data && news.data.text) || JSON.stringify(news.data);
  document.getElementById('news').append(item);
}).then(() => {
  document.body.dataset.listening = 'true';
});
